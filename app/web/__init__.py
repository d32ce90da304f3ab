"""HTTP views on the worker's Faust web server (aiohttp)."""
