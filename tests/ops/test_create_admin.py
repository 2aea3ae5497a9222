"""`kaikaku create-admin`: the first account of a new installation."""


def test_create_admin_makes_the_first_local_administrator(app, db, client):
    runner = app.test_cli_runner()
    short = runner.invoke(
        args=["create-admin", "admin", "--name", "情報 太郎", "--email", "admin@city.example"],
        input="short\nshort\n",
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    made = runner.invoke(
        args=["create-admin", "admin", "--name", "情報 太郎", "--email", "admin@city.example"],
        input="a-long-passphrase\na-long-passphrase\n",
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(
        args=["create-admin", "admin", "--name", "x", "--email", "x@city.example"],
        input="a-long-passphrase\na-long-passphrase\n",
    )
    assert again.exit_code == 1 and "already taken" in again.output
    response = client.post("/login", data={"login": "admin", "password": "a-long-passphrase"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
