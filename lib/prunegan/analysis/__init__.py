"""Analysis of result tables: statistics (one CI method), tidy tables, layer collapse, mask spaces and
keep-probability maps."""
