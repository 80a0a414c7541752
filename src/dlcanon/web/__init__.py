"""The local web guide (`dlcanon serve`): FastAPI routes in app.py, templates/, static/. Imported only by
`dlcanon serve` and the tests, so the rest of dlcanon never needs fastapi."""
