"""placeholder"""


def register_format() -> None:
    pass
