"""Chapter code: what the notebooks call — configs from papermill parameters, verdict sentences (Markdown) and
glue values. Not a library layer: nothing below imports it."""
