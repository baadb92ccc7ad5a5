from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "http_server_requests_total"


class Scrape:
    """One parsed /metrics response."""

    def __init__(self, client: TestClient) -> None:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        self.samples = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (0 when absent)."""
        return sum(v for (n, lab, v) in self.samples if n == name and lab == labels)

    def label_values(self, name: str, label: str) -> set[str]:
        """Every value one label takes across a metric's samples."""
        return {lab[label] for (n, lab, _) in self.samples if n == name}


def test_request_counts_and_durations_move_with_traffic(client: TestClient) -> None:
    """Each request adds to the count and duration histogram of its method and route template."""
    item = client.post("/items", json={"name": "counted"}).json()
    for _ in range(3):
        client.get(f"/items/{item['id']}")
    scrape = Scrape(client)
    route = "/items/{item_id}"
    assert scrape.value(REQUESTS, method="GET", route=route, status_class="2xx") == 3
    assert scrape.value(REQUESTS, method="POST", route="/items", status_class="2xx") == 1
    duration = "http_server_request_duration_seconds_count"
    assert scrape.value(duration, method="GET", route=route) == 3
    assert scrape.value("http_server_requests_in_flight") == 0


def test_unknown_paths_share_one_label_value(client: TestClient) -> None:
    """Raw paths never become label values: every unmatched path counts under one route."""
    for n in range(5):
        client.get(f"/random/{n}")
    scrape = Scrape(client)
    assert scrape.label_values(REQUESTS, "route") == {"<unmatched>"}
    assert scrape.value(REQUESTS, method="GET", route="<unmatched>", status_class="4xx") == 5


def test_odd_methods_are_bucketed(client: TestClient) -> None:
    """A made-up HTTP method is counted as _OTHER rather than as a new label value."""
    client.request("BREW", "/items")
    assert Scrape(client).label_values(REQUESTS, "method") == {"_OTHER"}


def test_probes_and_scrapes_are_not_counted(client: TestClient) -> None:
    """Health checks and scrapes stay out of the request metrics."""
    for path in ("/livez", "/metrics", "/livez"):
        client.get(path)
    assert Scrape(client).label_values(REQUESTS, "route") == set()


def test_build_info_and_process_metrics_are_exported(client: TestClient) -> None:
    """The build-info gauge names version and commit; process metrics are there."""
    scrape = Scrape(client)
    assert scrape.label_values("service_build_info", "version") == {"0.1.0"}
    assert scrape.label_values("service_build_info", "commit") == {"unknown"}
    assert scrape.value("process_cpu_seconds_total") > 0


def test_readiness_results_are_exported(app: FastAPI, client: TestClient) -> None:
    """Each readiness check's last result is a 1/0 gauge."""

    async def broken() -> None:
        raise ConnectionError("down")

    app.state.health.register("upstream", broken)
    client.get("/readyz")
    scrape = Scrape(client)
    assert scrape.value("service_readiness_check_up", check="items") == 1
    assert scrape.value("service_readiness_check_up", check="upstream") == 0
