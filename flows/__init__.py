"""Prefect flows and schedules: the campaign tick (its steps in order, at the grain of one task run per
phase, ledger and sending), run in process (`flows.tick.tick_direct`, no Prefect) or as one Prefect flow
run (`flows.tick.tick`, flows/tick_flow.py); the embedded APScheduler jobs and the Prefect deployments for
server/worker mode.

May import campaign_model and notifications; never campaign_app. What it needs of the settings is
passed in (flows/settings.py for the worker's own edge). Only tick_flow.py and deploy.py import Prefect
at their top; the rest imports it when it runs a flow, so that commands that run none never pay for it.
"""

SCHEDULER_ACTOR = "scheduler"  # who the machine's own ticks act as (serve's jobs, a deployment's runs, the CLI's tick)
