"""The webapi's error: a code for programs, a message for people."""


class WebapiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"Code": self.code, "Message": self.message}
