"""The engine: everything that happens without a person (outbox dispatch first).

Plain functions hold the logic so it is testable without Prefect; `flows` wraps them in
thin Prefect flows and tasks that pass only ids and counts, never personal data.
"""
