"""http"""

from switchyard.http import _pydantic_v1

_pydantic_v1.install()
