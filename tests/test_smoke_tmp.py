from .helpers import wait_until
def test_app_serves_landing(writer, make_app, serve):
    app = make_app()
    srv = serve(app)
    r = wait_until(lambda: (r := srv.get("/performance/landing")).status == 200 and r, what="landing")
    assert r.json()["windows"]["all"]["trades"] == 0
