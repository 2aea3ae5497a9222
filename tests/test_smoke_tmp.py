def test_login_and_index(make, client, login_as, db):
    org = make.org("企画")
    make.item(org, title="テスト項目")
    db.session.commit()
    login_as(org.staff)
    r = client.get("/")
    assert "テスト項目" in r.get_data(as_text=True)
