from tests.support.web import make_web  # noqa: F401 - the fixture of every web test
