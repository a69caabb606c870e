"""Pages of the accounts and of the partner's team."""
