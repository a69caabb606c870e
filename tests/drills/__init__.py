"""The production drills (`make drills`): the topology of docs/deploy.md started on this machine
from the scripts of bin/, then broken on purpose, each drill printing its figure."""
