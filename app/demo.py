import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="The demo data of Iruma City's reform outline.")
