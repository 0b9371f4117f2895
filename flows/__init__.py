"""Prefect flows and schedules: the campaign tick (one flow per phase kind, tasks at the grain of a
tick's steps), the same steps run directly (`tick_direct`), the embedded APScheduler jobs and the
Prefect deployments for server/worker mode.

May import campaign_model and notifications; never campaign_app. What it needs of the settings is
passed in (flows/settings.py for the worker's own edge).
"""
