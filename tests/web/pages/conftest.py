from tests.support.browser import browser, make_site, page  # noqa: F401 - fixtures
from tests.support.web import make_web  # noqa: F401 - the fixture of every web test
