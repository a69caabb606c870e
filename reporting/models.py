"""Report archive models arrive with the scheduled reports."""
