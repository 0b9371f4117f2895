"""The use cases: one function for each thing a user does, said once for the CLI, the API and the pages.

Each public function is one user action or one question (file an artifact, review it, waive it,
advance a phase, tick, close a ledger item, import units, add an account, build a report ...). It
takes the wiring (`Services`: database, file store, settings), the actor and the instant (`Act`) and
plain arguments; it owns its transaction and returns plain data (dicts and lists that serialize to
JSON). Its errors are the domain's (`campaign_model.errors`), each naming the field at fault.

The callers only translate: a Typer command parses its options, calls one use case and prints; an
API route checks the caller's right and scope, calls one use case and answers; a page does the same
and renders a template. None of them holds SQL or a rule.

May import: campaign_model (and its store), notifications, flows. Never fastapi, starlette or typer.
"""
