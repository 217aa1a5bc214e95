"""The link between the server's processes: frames that arrive in pieces or
many at once are each handled whole and in order, drain() handles what was
sent before it was called without waiting for the event loop, and a frame
that claims too much closes the link."""

import asyncio
import socket

import msgspec

from moxpy.link import MAX_FRAME, Link


class Note(msgspec.Struct):
    text: str


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_frames_in_pieces_and_together_arrive_whole_and_in_order():
    async def main():
        a, b = socket.socketpair()
        sender, receiver = Link(a, "receiver"), Link(b, "sender")
        got = []
        receiver.on("note", Note, lambda n: got.append(n.text))
        await sender.start()
        await receiver.start()
        for i in range(50):
            sender.send("note", Note("x" * i))
        sender.send("unknown kind", Note("dropped"))
        sender.send("note", Note("last"))
        while len(got) < 51:
            await asyncio.sleep(0.01)
        sender.close()
        await receiver.closed
        return got

    assert run(main()) == ["x" * i for i in range(50)] + ["last"]


def test_drain_handles_what_was_sent_before_it_was_called():
    async def main():
        a, b = socket.socketpair()
        receiver = Link(b, "sender")
        got = []
        receiver.on("note", Note, lambda n: got.append(n.text))
        await receiver.start()
        # Written by hand in two pieces, the second completing the frame.
        frame = msgspec.msgpack.encode(("note", msgspec.Raw(msgspec.msgpack.encode(Note("now")))))
        data = len(frame).to_bytes(4, "big") + frame
        a.sendall(data[:3])
        receiver.drain()
        assert got == []
        a.sendall(data[3:])
        receiver.drain()  # no await in between: the loop has not read it
        assert got == ["now"]
        receiver.drain()  # nothing more: returns at once
        a.close()
        await receiver.closed
        return got

    assert run(main()) == ["now"]


def test_a_frame_claiming_too_much_closes_the_link():
    async def main():
        a, b = socket.socketpair()
        receiver = Link(b, "sender")
        receiver.on("note", Note, lambda n: None)
        await receiver.start()
        a.sendall((MAX_FRAME + 1).to_bytes(4, "big") + b"\0" * 16)
        await receiver.closed
        a.settimeout(5)
        assert a.recv(1) == b""  # the receiver closed its end
        a.close()

    run(main())
