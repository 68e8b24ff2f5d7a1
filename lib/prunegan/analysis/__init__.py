"""Analysis of result tables: statistics (one CI method), tidy tables, layer collapse, mask comparisons."""
