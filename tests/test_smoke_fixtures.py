from tests.support import assert_error


def test_register_and_me(api):
    alice = api.register("Alice")
    response = alice.get("/api/users/me")
    assert response.status_code == 200
    assert response.get_json()["display_name"] == "Alice"


def test_tables_are_emptied_between_tests(api, client):
    response = client.post("/api/auth/login", json={"email": "user1@example.com", "password": "correct horse 1"})
    assert_error(response, 401, "invalid_credentials")
