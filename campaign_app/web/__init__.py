"""The HTTP side: the API under /api/v1 (api.py), the dashboard pages and the public board, login and
sessions, uploads, and the error mapping. Routes and pages stay thin: they check the caller's right
(deps.require / page_auth.page_caller) and scope, call one use case (campaign_app.usecases) and render.

May import campaign_app.usecases and campaign_model (for types and errors); holds no SQL.
"""
