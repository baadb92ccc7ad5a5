import uuid

from fastapi.testclient import TestClient


def test_created_item_can_be_read_back(client: TestClient) -> None:
    """POST /items returns 201 with a Location that serves the same item."""
    response = client.post("/items", json={"name": "blue widget", "quantity": 3})
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "blue widget"
    assert created["quantity"] == 3
    fetched = client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_list_pages_through_items_in_creation_order(client: TestClient) -> None:
    """GET /items pages with limit and offset and reports the total."""
    names = [f"item-{n}" for n in range(5)]
    for name in names:
        client.post("/items", json={"name": name})
    page = client.get("/items", params={"limit": 2, "offset": 1}).json()
    assert [item["name"] for item in page["items"]] == names[1:3]
    assert page["total"] == 5


def test_unknown_item_is_a_404_problem(client: TestClient) -> None:
    """A missing item is a problem+json 404 carrying the request id."""
    response = client.get(f"/items/{uuid.uuid4()}", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["request_id"] == "req-404"


def test_invalid_item_names_the_wrong_field(client: TestClient) -> None:
    """A validation error is a 422 problem listing each bad field, without echoing input."""
    response = client.post("/items", json={"name": "", "quantity": -1, "secret": "hunter2"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.name", "body.quantity", "body.secret"}
    assert "hunter2" not in response.text


def test_bad_path_and_query_parameters_are_422_problems(client: TestClient) -> None:
    """A malformed id or an out-of-range page size is a 422 naming the parameter."""
    bad_id = client.get("/items/not-a-uuid")
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "path.item_id"
    bad_limit = client.get("/items", params={"limit": 1000})
    assert bad_limit.status_code == 422
    assert bad_limit.json()["errors"][0]["field"] == "query.limit"
