"""Route modules by area; app.py includes their routers under /api/v1."""
