"""Real-time serving: a validated forecast API that follows an alias of the registered model.

`encodings` turns the units a person uses into the model's inputs, `validation` checks inputs by
the rules of the inputs schema, `schemas` types the requests and responses, `holder` keeps the model
served and swaps it when its alias moves, `metrics` counts for Prometheus, and `app` is the FastAPI
application that `jobs.ServingJob` runs with uvicorn.
"""
