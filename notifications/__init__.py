"""Everything that leaves the building: mail templates, delivery, the scheduler's jobs.

Mail is queued by `app.outbox.enqueue` in the transaction of the change that causes it
(the engine's transitions, these jobs) and delivered here after commit.
"""
