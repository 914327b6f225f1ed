"""Drives `whetstone mcp` with the `mcp` package's own client over stdio: lists the tools,
calls `solve` (with progress), then `status` and `cancel` on a job submitted without waiting.
Prints one JSON object with what it saw; the Rust test asserts on it."""

import asyncio
import json
import os
import sys

import anyio

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def field(obj, *names):
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def texts(result):
    return [item.text for item in result.content if getattr(item, "type", "") == "text"]


async def main():
    params = StdioServerParameters(
        command=os.environ["WHETSTONE_BIN"],
        args=["mcp"],
        env={
            "WHETSTONE_SOLVE_URL": os.environ["SOLVE_URL"],
            "WHETSTONE_API_KEY": os.environ["API_KEY"],
            "WHETSTONE_AGENT": os.environ.get("AGENT", "best"),
        },
        cwd=os.environ["REPO"],
    )
    report = {}
    async with stdio_client(params) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            initialized = await session.initialize()
            report["protocol_version"] = field(initialized, "protocol_version", "protocolVersion")
            report["server"] = field(initialized, "server_info", "serverInfo").name
            tools = await session.list_tools()
            report["tools"] = sorted(tool.name for tool in tools.tools)

            progress = []

            async def on_progress(value, total, message):
                progress.append(message)

            solved = await session.call_tool(
                "solve",
                {"statement": "add() subtracts; it must add", "test_command": "pytest -q"},
                progress_callback=on_progress,
            )
            report["solve_error"] = field(solved, "is_error", "isError")
            report["solve_texts"] = texts(solved)
            report["solve_structured"] = field(solved, "structured_content", "structuredContent")
            report["progress"] = progress

            submitted = await session.call_tool("solve", {"statement": "again", "wait": False})
            job = field(submitted, "structured_content", "structuredContent")["id"]
            report["submitted"] = job
            cancelled = await session.call_tool("cancel", {"id": job})
            report["cancel_texts"] = texts(cancelled)
            status = await session.call_tool("status", {"id": job})
            report["status_structured"] = field(status, "structured_content", "structuredContent")
            missing = await session.call_tool("status", {"id": "solve-404"})
            report["missing_error"] = field(missing, "is_error", "isError")
            report["missing_texts"] = texts(missing)

            # With $HOLD, a solve the agent takes its time on is abandoned by the caller (the
            # client sends notifications/cancelled); the job's own state must say cancelled.
            hold = os.environ.get("HOLD")
            if hold:
                held = []

                async def on_held_progress(value, total, message):
                    held.append(message)

                with anyio.move_on_after(30) as scope:
                    async with anyio.create_task_group() as group:
                        async def call():
                            await session.call_tool("solve", {"statement": hold}, progress_callback=on_held_progress)

                        group.start_soon(call)
                        while not any(m.startswith("running on") for m in held):
                            await anyio.sleep(0.05)
                        group.cancel_scope.cancel()
                report["hold_timed_out"] = scope.cancelled_caught
                job = held[0].split()[1]
                state = None
                for _ in range(100):
                    status = await session.call_tool("status", {"id": job})
                    state = field(status, "structured_content", "structuredContent")
                    if state["state"] == "finished":
                        break
                    await anyio.sleep(0.1)
                report["held_status"] = state
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
