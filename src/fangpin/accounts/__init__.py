"""Users, roles and each user's region scope; ``permissions`` answers every "may I"."""
