"""The shell: settings, the use cases, the Typer CLI (`campaign`), the FastAPI API and dashboard, and
the demo. The only package that wires the others together.

    usecases/   one function per thing a user does; no fastapi/typer
    cli*.py     thin commands: parse, call one use case, print (cli_common: what they share)
    web/        thin routes and pages: check the right and scope, call one use case, answer or render

May import everything below it: campaign_model, notifications, flows.
"""
