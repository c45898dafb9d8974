"""HTTP routers, one per resource; each route translates HTTP to a :class:`Service` call."""
