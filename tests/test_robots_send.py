"""`digestbot send` to Feishu, WeCom and DingTalk robots, run as a user runs it (a separate process) against
the fake robot servers: every part arrives, signed where a secret is set, and no credential is printed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.digests import write_digest
from tests.fakes.fake_dingtalk import FakeDingTalk
from tests.fakes.fake_feishu import FakeFeishu
from tests.fakes.fake_wecom import FakeWeCom

DAY = dt.date(2025, 10, 1)


async def run_send(config: Path, env: dict[str, str], day: dt.date = DAY) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "send", "-c", str(config), "--date", day.isoformat(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DIGESTBOT_LOG_LEVEL": "DEBUG", **env})
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_send_posts_to_every_robot_and_prints_no_credential(tmp_path: Path) -> None:
    write_digest(tmp_path / "digests", DAY, items=40, summary_sentences=6)
    async with FakeFeishu() as feishu, FakeWeCom() as wecom, FakeDingTalk() as dingtalk:
        env = {"FS_URL": feishu.add_robot(secret="fs-secret-1", credential="fs-credential-1"),
               "WC_URL": wecom.add_robot(credential="wc-credential-1"),
               "DD_URL": dingtalk.add_robot(secret="SECdd-secret-1", credential="dd-credential-1")}
        config = tmp_path / "config.yaml"
        config.write_text("""version: 1
digests: {source: ./digests}
store: sqlite:///./ledger.db
channels:
  - {name: fs, platform: feishu, webhook: "${FS_URL}", secret: fs-secret-1}
  - {name: wc, platform: wecom, webhook: "${WC_URL}"}
  - {name: dd, platform: dingtalk, webhook: "${DD_URL}", secret: "SECdd-secret-1"}
""", encoding="utf-8")
        status, out, err = await run_send(config, env)
        assert status == 0, out + err
        for fake, credential in ((feishu, "fs-credential-1"), (wecom, "wc-credential-1"),
                                 (dingtalk, "dd-credential-1")):
            assert len(fake.messages(credential)) >= 2, (credential, out, err)
            assert not fake.refused
        assert all(f"{name}: delivered" in out for name in ("fs", "wc", "dd")), out
        for secret in ("fs-credential-1", "wc-credential-1", "dd-credential-1", "fs-secret-1", "SECdd-secret-1"):
            assert secret not in out and secret not in err

        # The robots are gone now: each channel is marked inactive, and the reason names no credential.
        write_digest(tmp_path / "digests", DAY + dt.timedelta(days=1))
        for fake, credential in ((feishu, "fs-credential-1"), (wecom, "wc-credential-1"),
                                 (dingtalk, "dd-credential-1")):
            fake.remove_robot(credential)
        status, out, err = await run_send(config, env, DAY + dt.timedelta(days=1))
        assert status == 1, out + err
        assert "19001" in out and "93000" in out and "300001" in out, out
        for secret in ("fs-credential-1", "wc-credential-1", "dd-credential-1", "fs-secret-1", "SECdd-secret-1"):
            assert secret not in out and secret not in err

