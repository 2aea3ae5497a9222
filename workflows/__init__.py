"""The workflow engine: definitions as data, one shared state machine per version, the
operations, roles resolved on the day, and the business rules every page and job asks.

It imports the models and the calendar only; nothing here loads Flask or reads the
request, and the acting user, the time and the settings come in as arguments.
"""
