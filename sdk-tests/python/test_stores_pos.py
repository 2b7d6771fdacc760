"""Stores, classic POS and v2 POS: the SDK has no resources for them, so they go through
its own HTTP layer (MPBase / HttpClient), as a POS written with it would."""
from conftest import required, uniq


def user():
    return required("MP_USER_ID")


def store_body(name, external_id):
    return {
        "name": name,
        "external_id": external_id,
        "business_hours": {"monday": [{"open": "08:00", "close": "12:00"}]},
        "location": {
            "street_number": "3039", "street_name": "Caseros", "city_name": "Belgrano",
            "state_name": "Capital Federal", "latitude": -34.6, "longitude": -58.4, "reference": "near the square",
        },
    }


def new_store(rest, name):
    res = rest.post(f"/users/{user()}/stores", store_body(name, uniq("SUC")))
    assert res["status"] in (200, 201), res
    return res["response"]


def test_store_create_read_search_update_delete(rest):
    ext = uniq("SUC")
    res = rest.post(f"/users/{user()}/stores", store_body("Py store", ext))
    assert res["status"] in (200, 201), res
    store = res["response"]
    assert isinstance(store["id"], int) and store["external_id"] == ext and store["date_created"]
    assert "Caseros" in store["location"]["address_line"]
    got = rest.get(f"/stores/{store['id']}")
    assert got["status"] == 200 and got["response"]["name"] == "Py store"
    found = rest.get(f"/users/{user()}/stores/search", {"external_id": ext})
    assert found["status"] == 200, found
    assert found["response"]["paging"]["total"] == 1
    assert found["response"]["results"][0]["id"] == store["id"]
    upd = rest.put(f"/users/{user()}/stores/{store['id']}", store_body("Py store 2", ext))
    assert upd["status"] == 200 and upd["response"]["name"] == "Py store 2", upd
    assert rest.get(f"/stores/{store['id']}")["response"]["name"] == "Py store 2"
    bad = rest.post(f"/users/{user()}/stores", {"name": "no location", "external_id": uniq("SUC")})
    assert bad["status"] == 400, bad
    deleted = rest.delete(f"/users/{user()}/stores/{store['id']}")
    assert deleted["status"] == 200 and str(deleted["response"]["store"]) == str(store["id"]), deleted
    assert rest.get(f"/stores/{store['id']}")["status"] == 404


def test_classic_pos_create_search_update_delete(rest):
    store = new_store(rest, "Py POS store")
    ext = uniq("POS")
    res = rest.post("/pos", {"name": "Py caja", "fixed_amount": False, "store_id": store["id"],
                             "external_store_id": store["external_id"], "external_id": ext, "category": 621102})
    assert res["status"] == 200, res
    pos = res["response"]
    assert pos["external_id"] == ext and str(pos["store_id"]) == str(store["id"]) and pos["status"] == "active"
    assert pos["qr"]["image"].startswith("http")
    dup = rest.post("/pos", {"name": "dup", "store_id": store["id"], "external_id": ext})
    assert dup["status"] == 409, dup
    found = rest.get("/pos", {"external_id": ext})
    assert [p["id"] for p in found["response"]["results"]] == [pos["id"]]
    assert rest.get(f"/pos/{pos['id']}")["response"]["name"] == "Py caja"
    upd = rest.put(f"/pos/{pos['id']}", {"name": "Py caja 2"})
    assert upd["status"] == 200 and upd["response"]["name"] == "Py caja 2", upd
    assert rest.delete(f"/pos/{pos['id']}")["status"] == 200
    assert rest.get(f"/pos/{pos['id']}")["status"] == 404
    rest.delete(f"/users/{user()}/stores/{store['id']}")


def test_v2_pos_idempotent_create_search_patch_delete(rest):
    store = new_store(rest, "Py v2 store")
    ext = uniq("POSV")
    key = {"x-idempotency-key": f"py-v2pos-{ext}"}
    body = {"name": "Py v2 caja", "store_id": str(store["id"]), "external_id": ext}
    res = rest.post("/v2/pos", body, headers=key)
    assert res["status"] == 201, res
    pos = res["response"]
    assert pos["external_id"] == ext and pos["qr_response"]["qr_code"]
    again = rest.post("/v2/pos", body, headers=key)
    assert again["status"] == 201 and again["response"]["id"] == pos["id"], again
    other = rest.post("/v2/pos", {**body, "external_id": uniq("POSV")}, headers=key)
    assert other["status"] == 400, other
    number = rest.post("/v2/pos", {**body, "store_id": store["id"], "external_id": uniq("POSV")})
    assert number["status"] == 400, number
    found = rest.get("/v2/pos", {"external_id": ext})
    assert [p["id"] for p in found["response"]["results"]] == [pos["id"]]
    assert rest.get(f"/v2/pos/{pos['id']}")["response"]["external_id"] == ext
    patched = rest.patch(f"/v2/pos/{pos['id']}", {"name": "Py v2 caja 2"})
    assert patched["status"] == 200 and patched["response"]["name"] == "Py v2 caja 2", patched
    assert rest.delete(f"/v2/pos/{pos['id']}")["status"] == 204
    assert rest.get(f"/v2/pos/{pos['id']}")["status"] == 404
    rest.delete(f"/users/{user()}/stores/{store['id']}")
