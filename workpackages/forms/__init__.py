"""Forms of the coordinators' decisions and of the partner pages, one module per subject."""
