"""Partner pages of the work plan, the money and the jobs, one module per subject, and the
protected files they link to."""
