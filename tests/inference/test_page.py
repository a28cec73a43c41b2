"""The page in a real browser (Debian's chromium, headless, driven by Playwright): a person picks a file and
the numbers, the chart and the transcript appear. Skips where chromium or Playwright is not installed."""

import dataclasses
import shutil

import pytest

from tests.inference.test_serve import Running, env  # noqa: F401  (the module fixture: a tiny model and speech files)

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it where it can)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_pick_a_file_and_the_results_appear(env, browser, tmp_path):  # noqa: F811
    from sa2sr_core.config.inference import ServeConfig
    from sa2sr_core.inference.serve import Service, create_app

    root, model_dir, model, config = env
    service = Service(model, dataclasses.replace(config, trained_on_demo=True), str(model_dir), ServeConfig())
    with Running(create_app(service)) as base:
        page = browser.new_page(viewport={"width": 1200, "height": 1100})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.wait_for_selector("#demo", state="visible")  # a demo model says so before anything else
        assert "DEMO MODEL" in page.inner_text("#demo")
        page.set_input_files("#file", str(root / "audio" / "long.wav"))
        page.wait_for_selector("#results:not([hidden])", timeout=60000)
        summary = page.inner_text("#summary")
        for word in ("activation", "valence", "dominance", "P(positive)", "transcript"):
            assert word in summary
        rows = page.locator("#segments tr").count()
        assert rows > 3  # the long file: speech and non-speech segments listed
        assert "speech segments scored" in page.inner_text("#status")
        painted = page.evaluate("""() => { const c = document.getElementById('chart');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2])) n++;
            return n; }""")
        assert painted > 1000  # coloured pixels: the A/V/D lines and the sentiment band were drawn
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert shot.read_bytes()[:4] == b"\x89PNG"
        # a bad file: the page names the problem, and the next good file is scored
        (tmp_path / "notes.txt").write_text("not audio")
        page.set_input_files("#file", str(tmp_path / "notes.txt"))
        page.wait_for_selector("#status.error")
        assert "400" in page.inner_text("#status") and "not a readable audio file" in page.inner_text("#status")
        page.set_input_files("#file", str(root / "audio" / "test-2.wav"))
        page.wait_for_selector("#results:not([hidden])", timeout=60000)
        assert "test-2.wav" in page.inner_text("#title")
        assert errors == []


def test_a_text_route_model_shows_the_transcript_it_read(env, browser, tmp_path):  # noqa: F811
    from sa2sr_core.config.inference import ServeConfig
    from sa2sr_core.inference.serve import Service, create_app
    from sa2sr_core.models.packaged import load_model
    from tests.model_dirs import TEXT, packaged

    root = env[0]
    model_dir, _, _ = packaged(tmp_path / "m", stats=True, text=TEXT)
    model, config = load_model(model_dir)
    service = Service(model, config, str(model_dir), ServeConfig())
    with Running(create_app(service)) as base:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.set_input_files("#file", str(root / "audio" / "test-1.wav"))
        page.wait_for_selector("#results:not([hidden])", timeout=60000)
        assert "the model reads its own transcript beside the sound" in page.inner_text("#summary")
        assert errors == []
