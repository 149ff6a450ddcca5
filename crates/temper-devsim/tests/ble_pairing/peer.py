"""Real BlueZ clients for the simulated BLE world's pairing tests: bleak (scan, connect, read, write, notify,
pair) and a pairing agent served with dbus-fast (bleak's D-Bus library). Every command prints one JSON line.

  peer.py dis ADAPTER ADDRESS                read the Device Information Service
  peer.py pair ADAPTER ADDRESS AGENT         Device1.Pair with AGENT: a passkey (digits), "reject", "cancel"
                                             (answers org.bluez.Error.Rejected / .Canceled) or "none" (no agent)
  peer.py smp ADAPTER ADDRESS OPS            SMP requests over the SMP characteristic; OPS is JSON:
                                             [{"op": "echo", "text"}, {"op": "write", "name", "val"},
                                              {"op": "commit"}]; each gives {"reply": {...}} or {"error": NAME}
  peer.py bleak-pair ADAPTER ADDRESS         bleak's own BleakClient.pair() (no agent)
  peer.py nus ADAPTER ADDRESS STEPS          the shell over the Nordic UART Service: subscribes to TX (gives
                                             {"greeting": text}), then each step of STEPS (JSON:
                                             [{"writes": [text, ...], "prompts": N}]) writes to RX (alternating
                                             without and with response) and collects TX until N more prompts:
                                             {"steps": [{"text"} or {"error": NAME}]}
"""

import asyncio
import json
import sys

import cbor2
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDBusError
from dbus_fast import BusType, DBusError, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, dbus_method

NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
PROMPT = "uart:~$ "
SMP = "da2e7828-fbce-4e01-ae9e-261174997c48"
DIS = {
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "firmware": "00002a26-0000-1000-8000-00805f9b34fb",
}
AGENT_PATH = "/org/temper/test/agent"


async def find(adapter, address):
    device = await BleakScanner.find_device_by_address(
        address, timeout=5.0, bluez={"adapter": adapter}
    )
    if device is None:
        raise SystemExit(f"{address} not found on {adapter}")
    return device


async def dis(adapter, address):
    device = await find(adapter, address)
    async with BleakClient(device) as client:
        out = {}
        for key, uuid in DIS.items():
            out[key] = (await client.read_gatt_char(uuid)).decode()
        return out


class Agent(ServiceInterface):
    """org.bluez.Agent1 answering RequestPasskey as told."""

    def __init__(self, answer):
        super().__init__("org.bluez.Agent1")
        self.answer = answer
        self.asked = []

    @dbus_method()
    def RequestPasskey(self, device: "o") -> "u":
        self.asked.append(device)
        if self.answer == "reject":
            raise DBusError("org.bluez.Error.Rejected", "the user said no")
        if self.answer == "cancel":
            raise DBusError("org.bluez.Error.Canceled", "the user went away")
        return int(self.answer)

    @dbus_method()
    def Cancel(self):
        pass

    @dbus_method()
    def Release(self):
        pass


async def call(bus, path, interface, member, signature="", body=()):
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
    )
    if reply.message_type == MessageType.ERROR:
        return {"error": reply.error_name, "message": (reply.body or [""])[0]}
    return {"ok": True}


async def pair(adapter, address, answer):
    device = await find(adapter, address)
    path = device.details["path"]
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    agent = Agent(answer)
    if answer != "none":
        bus.export(AGENT_PATH, agent)
        for member, signature, body in (
            ("RegisterAgent", "os", (AGENT_PATH, "KeyboardOnly")),
            ("RequestDefaultAgent", "o", (AGENT_PATH,)),
        ):
            result = await call(bus, "/org/bluez", "org.bluez.AgentManager1", member, signature, body)
            if "error" in result:
                return {"register": result}
    result = await call(bus, path, "org.bluez.Device1", "Pair")
    result["asked"] = agent.asked
    bus.disconnect()
    return result


def frame(op, group, command, seq, body):
    payload = cbor2.dumps(body)
    return bytes([0x08 | op, 0, len(payload) >> 8, len(payload) & 0xFF, group >> 8, group & 0xFF, seq, command]) + payload


def request(op, seq):
    kind = op["op"]
    if kind == "echo":
        return frame(2, 0, 0, seq, {"d": op["text"]})
    if kind == "write":
        return frame(2, 3, 0, seq, {"name": op["name"], "val": op["val"].encode()})
    if kind == "commit":
        return frame(2, 3, 2, seq, {})
    raise SystemExit(f"unknown op {kind}")


async def smp(adapter, address, ops):
    device = await find(adapter, address)
    got = bytearray()
    done = asyncio.Event()

    def on_notify(_, data):
        got.extend(data)
        if len(got) >= 8 and len(got) >= 8 + int.from_bytes(got[2:4], "big"):
            done.set()

    results = []
    async with BleakClient(device) as client:
        await client.start_notify(SMP, on_notify)
        for seq, op in enumerate(ops):
            got.clear()
            done.clear()
            try:
                await client.write_gatt_char(SMP, request(op, seq), response=False)
            except BleakDBusError as e:
                results.append({"error": e.dbus_error, "message": e.dbus_error_details})
                continue
            await asyncio.wait_for(done.wait(), 5.0)
            results.append({"reply": cbor2.loads(bytes(got[8:]))})
    return results


async def bleak_pair(adapter, address):
    device = await find(adapter, address)
    async with BleakClient(device) as client:
        try:
            await client.pair()
            return {"ok": True}
        except BleakDBusError as e:
            return {"error": e.dbus_error, "message": e.dbus_error_details}


async def nus(adapter, address, steps):
    device = await find(adapter, address)
    got = bytearray()
    changed = asyncio.Event()

    def on_notify(_, data):
        got.extend(data)
        changed.set()

    async def until_prompts(n):
        while got.decode(errors="replace").count(PROMPT) < n:
            changed.clear()
            await asyncio.wait_for(changed.wait(), 5.0)
        text = got.decode()
        got.clear()
        return text

    out = {"steps": []}
    async with BleakClient(device) as client:
        await client.start_notify(NUS_TX, on_notify)
        out["greeting"] = await until_prompts(1)
        for step in steps:
            try:
                for i, text in enumerate(step["writes"]):
                    await client.write_gatt_char(NUS_RX, text.encode(), response=i % 2 == 1)
            except BleakDBusError as e:
                out["steps"].append({"error": e.dbus_error, "message": e.dbus_error_details})
                continue
            out["steps"].append({"text": await until_prompts(step["prompts"])})
    return out


def main():
    cmd, adapter, address = sys.argv[1:4]
    if cmd == "dis":
        out = asyncio.run(dis(adapter, address))
    elif cmd == "pair":
        out = asyncio.run(pair(adapter, address, sys.argv[4]))
    elif cmd == "smp":
        out = asyncio.run(smp(adapter, address, json.loads(sys.argv[4])))
    elif cmd == "nus":
        out = asyncio.run(nus(adapter, address, json.loads(sys.argv[4])))
    elif cmd == "bleak-pair":
        out = asyncio.run(bleak_pair(adapter, address))
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out, default=lambda b: b.hex() if isinstance(b, bytes) else str(b)))


if __name__ == "__main__":
    main()
