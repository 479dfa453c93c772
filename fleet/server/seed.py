"""A test fleet database: N kiosks in Chongqing's post-office halls, as the server stores them.

    python -m fleet.server.seed sqlite:///fleet-10k.db --kiosks 10000 [--seed 1]

What it writes is what ingest would have written for such a fleet: each kiosk's presence
and latest health message (built with `fleet.protocol.Health`, devices with faults and
paper levels), the alerts `alerts.health_conditions` opens for that health (plus offline
alerts and some cleared history), operator labels (group = district, tags) and the site
registry (name, hall, district, region). Districts are Chongqing's 38 county-level
divisions in the city's 一区两群 regions, weighted by rough population; versions, device
faults and silent/offline shares follow a plausible fleet. Deterministic for a seed.
Used by `bench/console_kiosks.py` and the console's browser tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import insert, text

from fleet.protocol import DeviceHealth, Health, SystemHealth
from fleet.server import alerts as alert_rules
from fleet.server.db import Database
from fleet.server.models import Alert, Kiosk, KioskLabel, KioskSite

CORE, NEW, NORTHEAST, SOUTHEAST = "主城都市区·中心城区", "主城都市区·主城新区", "渝东北三峡库区城镇群", "渝东南武陵山区城镇群"

# (slug, name, region, weight ≈ population in 100k, a few real neighbourhoods / towns for hall names)
DISTRICTS: list[tuple[str, str, str, int, tuple[str, ...]]] = [
    ("yuzhong", "渝中区", CORE, 6, ("解放碑", "七星岗", "两路口", "大坪", "化龙桥", "朝天门", "上清寺")),
    ("dadukou", "大渡口区", CORE, 4, ("新山村", "春晖路", "跳磴", "八桥", "建胜")),
    ("jiangbei", "江北区", CORE, 10, ("观音桥", "五里店", "大石坝", "寸滩", "石马河", "鱼嘴", "华新街")),
    ("shapingba", "沙坪坝区", CORE, 15, ("三峡广场", "磁器口", "小龙坎", "大学城", "井口", "陈家桥", "西永")),
    ("jiulongpo", "九龙坡区", CORE, 15, ("杨家坪", "石桥铺", "黄桷坪", "谢家湾", "西彭", "白市驿", "二郎")),
    ("nanan", "南岸区", CORE, 12, ("南坪", "弹子石", "南山", "茶园", "铜元局", "海棠溪", "长生桥")),
    ("beibei", "北碚区", CORE, 8, ("天生", "北温泉", "歇马", "蔡家岗", "水土", "静观")),
    ("yubei", "渝北区", CORE, 22, ("两路", "龙溪", "回兴", "人和", "照母山", "双凤桥", "仙桃", "木耳")),
    ("banan", "巴南区", CORE, 11, ("鱼洞", "李家沱", "龙洲湾", "界石", "南泉", "木洞")),
    ("fuling", "涪陵区", NEW, 11, ("敦仁", "崇义", "荔枝", "李渡", "白涛", "龙桥")),
    ("changshou", "长寿区", NEW, 7, ("凤城", "晏家", "渡舟", "江南", "葛兰")),
    ("jiangjin", "江津区", NEW, 14, ("几江", "德感", "双福", "白沙", "珞璜", "支坪")),
    ("hechuan", "合川区", NEW, 12, ("合阳城", "南津街", "钓鱼城", "草街", "太和")),
    ("yongchuan", "永川区", NEW, 11, ("中山路", "胜利路", "南大街", "茶山竹海", "朱沱")),
    ("nanchuan", "南川区", NEW, 6, ("东城", "南城", "西城", "大观", "水江")),
    ("qijiang", "綦江区", NEW, 10, ("古南", "文龙", "三江", "万盛", "东溪")),
    ("dazu", "大足区", NEW, 8, ("龙岗", "棠香", "智凤", "宝顶", "邮亭")),
    ("bishan", "璧山区", NEW, 8, ("璧城", "璧泉", "青杠", "来凤", "丁家")),
    ("tongliang", "铜梁区", NEW, 7, ("巴川", "东城", "南城", "蒲吕", "旧县")),
    ("tongnan", "潼南区", NEW, 7, ("梓潼", "桂林", "双江", "塘坝", "柏梓")),
    ("rongchang", "荣昌区", NEW, 7, ("昌元", "昌州", "广顺", "安富", "峰高")),
    ("wanzhou", "万州区", NORTHEAST, 16, ("高笋塘", "钟鼓楼", "牌楼", "龙都", "天城", "五桥")),
    ("kaizhou", "开州区", NORTHEAST, 12, ("汉丰", "文峰", "云枫", "镇东", "赵家")),
    ("liangping", "梁平区", NORTHEAST, 6, ("梁山", "双桂", "仁贤", "礼让")),
    ("chengkou", "城口县", NORTHEAST, 2, ("葛城", "复兴", "修齐")),
    ("fengdu", "丰都县", NORTHEAST, 6, ("三合", "名山", "高家", "社坛")),
    ("dianjiang", "垫江县", NORTHEAST, 7, ("桂溪", "桂阳", "澄溪", "高安")),
    ("zhongxian", "忠县", NORTHEAST, 7, ("忠州", "白公", "新生", "拔山")),
    ("yunyang", "云阳县", NORTHEAST, 9, ("青龙", "双江", "人和", "江口")),
    ("fengjie", "奉节县", NORTHEAST, 7, ("永安", "鱼复", "夔门", "白帝")),
    ("wushan", "巫山县", NORTHEAST, 4, ("高唐", "龙门", "大昌")),
    ("wuxi", "巫溪县", NORTHEAST, 4, ("柏杨", "城厢", "凤凰")),
    ("qianjiang", "黔江区", SOUTHEAST, 5, ("城东", "城西", "正阳", "舟白")),
    ("wulong", "武隆区", SOUTHEAST, 4, ("凤山", "芙蓉", "仙女山", "江口")),
    ("shizhu", "石柱土家族自治县", SOUTHEAST, 4, ("南宾", "西沱", "下路")),
    ("xiushan", "秀山土家族苗族自治县", SOUTHEAST, 5, ("中和", "乌杨", "平凯", "洪安")),
    ("youyang", "酉阳土家族苗族自治县", SOUTHEAST, 6, ("桃花源", "钟多", "龙潭", "龚滩")),
    ("pengshui", "彭水苗族土家族自治县", SOUTHEAST, 5, ("汉葭", "绍庆", "靛水", "郁山")),
]
VERSIONS = [("1.4.2", 8), ("1.5.0", 52), ("1.5.1", 33), ("1.6.0-rc1", 5), ("1.3.9", 2)]
TAGS = [("24h", 0.12), ("pilot", 0.05), ("elderly-friendly", 0.30), ("medical-check", 0.45),
        ("invoice-terminal", 0.35), ("canary", 0.01), ("mall", 0.08), ("rural", 0.18)]
DEVICE_KINDS = ("idcard", "camera", "printer", "bp", "eye", "height", "doccam", "cardreader")
FAULTS = {"idcard": ("sam_error", "antenna"), "camera": ("no_frames", "usb_reset"), "printer": ("cover_open", "cutter_jam"),
          "bp": ("cuff_leak", "pump_timeout"), "eye": ("lamp_failure",), "height": ("sensor_blocked",),
          "doccam": ("focus_failure",), "cardreader": ("no_card_field",)}
KIOSKS_PER_HALL = (1, 1, 2, 2, 2, 3, 4)


@dataclass
class SeedReport:
    kiosks: int
    halls: int
    alerts_open: int
    seconds: float


def _devices(rng: random.Random, medical: bool) -> list[DeviceHealth]:
    kinds = [k for k in DEVICE_KINDS if medical or k not in ("bp", "eye", "height")]
    devices = []
    for kind in kinds:
        roll = rng.random()
        state, reason = "ready", ""
        if roll < 0.025:
            state, reason = "fault", rng.choice(FAULTS[kind])
        elif roll < 0.035:
            state, reason = "absent", "not_connected"
        elif roll < 0.06:
            state = "busy"
        consumables = {}
        if kind == "printer":
            paper = rng.random()
            consumables = {"paper": "out" if paper < 0.02 else "near_end" if paper < 0.08 else "ok"}
        devices.append(DeviceHealth(kind=kind, state=state, reason=reason, consumables=consumables,
                                    model={"printer": "SNBC BK-T680", "idcard": "华视 CVR-100U"}.get(kind, ""),
                                    firmware=f"{rng.randint(1, 4)}.{rng.randint(0, 9)}"))
    return devices


def seed(db: Database, kiosks: int = 10_000, *, seed: int = 1, now: dt.datetime | None = None) -> SeedReport:
    """Write `kiosks` kiosks (and their sites, labels, health and alerts) into an empty fleet database."""
    import time

    started = time.perf_counter()
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.timezone.utc)
    weights = [d[3] for d in DISTRICTS]
    per_district = {d[0]: 0 for d in DISTRICTS}
    kiosk_rows, site_rows, label_rows, alert_rows = [], [], [], []
    halls = 0
    while len(kiosk_rows) < kiosks:
        slug, district, region, _, places = rng.choices(DISTRICTS, weights)[0]
        halls += 1
        place = rng.choice(places)
        kind = rng.choice(("邮政支局", "邮政所", "邮政营业厅", "便民服务中心邮政点"))
        hall = f"重庆{district}{place}{kind}" + (f"（{halls % 9 + 1}号厅）" if rng.random() < 0.25 else "")
        medical = rng.random() < 0.45
        tags = sorted({t for t, share in TAGS if rng.random() < share} | ({"medical-check"} if medical else set()))
        for number in range(1, min(rng.choice(KIOSKS_PER_HALL), kiosks - len(kiosk_rows)) + 1):
            per_district[slug] += 1
            kiosk_id = f"cq-{slug}-{per_district[slug]:04d}"
            version = rng.choices([v for v, _ in VERSIONS], [w for _, w in VERSIONS])[0]
            roll = rng.random()
            if roll < 0.86:
                online, last_seen = True, now - dt.timedelta(seconds=rng.uniform(0, 25))
            elif roll < 0.90:  # connected by the broker's account, but heartbeats stopped
                online, last_seen = True, now - dt.timedelta(seconds=rng.uniform(120, 3600))
            else:
                online, last_seen = False, now - dt.timedelta(seconds=rng.uniform(600, 14 * 86400))
            health = Health(kiosk_id=kiosk_id, app_version=version, agent_version=version, heartbeat_s=30.0,
                            uptime_s=rng.uniform(60, 30 * 86400), session_active=online and rng.random() < 0.2,
                            out_of_service=rng.random() < 0.01, out_of_service_reason="maintenance",
                            devices=_devices(rng, medical), ts=last_seen,
                            system=SystemHealth(disk_total_bytes=128 << 30, disk_free_bytes=rng.randint(8, 100) << 30,
                                                load_1m=round(rng.uniform(0.1, 3.5), 2), cpu_count=4,
                                                memory_total_bytes=8 << 30,
                                                memory_available_bytes=rng.randint(1, 6) << 30,
                                                temperature_c=round(rng.uniform(38, 78), 1)))
            first_seen = now - dt.timedelta(days=rng.uniform(30, 900))
            kiosk_rows.append(dict(
                kiosk_id=kiosk_id, first_seen=first_seen, last_seen=last_seen, online=online,
                session=rng.randint(1, 400), presence_changed=last_seen - dt.timedelta(hours=rng.uniform(0, 48)),
                heartbeat_s=30.0, app_version=version, last_health_at=last_seen,
                health=health.model_dump(mode="json"), config_desired_version=0, config_desired=None))
            site_rows.append(dict(kiosk_id=kiosk_id, name=f"{place}{number}号机", hall=hall, district=district,
                                  region=region, updated_at=first_seen, updated_by="seed"))
            label_rows.append(dict(kiosk_id=kiosk_id, group=slug, tags=tags, updated_at=first_seen, updated_by="seed"))
            for c in alert_rules.health_conditions(health):
                alert_rows.append(dict(kiosk_id=kiosk_id, kind=c.kind, device=c.device, severity=c.severity,
                                       message=c.message, opened_at=last_seen - dt.timedelta(minutes=rng.uniform(1, 600))))
            if not online or (now - last_seen).total_seconds() > 90:
                alert_rows.append(dict(kiosk_id=kiosk_id, kind="offline", device="", severity="critical",
                                       message="no heartbeat for 3 intervals of 30 s", opened_at=last_seen))
            if rng.random() < 0.3:  # history: an alert that cleared by itself
                opened = now - dt.timedelta(days=rng.uniform(1, 30))
                alert_rows.append(dict(kiosk_id=kiosk_id, kind="paper_low", device="printer", severity="warning",
                                       message="printer: paper near end", opened_at=opened,
                                       cleared_at=opened + dt.timedelta(hours=2),
                                       acknowledged_by="seed" if rng.random() < 0.5 else None))
    for row in alert_rows:
        row.setdefault("cleared_at", None)
        row.setdefault("acknowledged_by", None)
    with db.session() as session:
        for model, rows in ((Kiosk, kiosk_rows), (KioskSite, site_rows), (KioskLabel, label_rows), (Alert, alert_rows)):
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start:start + 2000])
    with db.engine.connect() as connection:  # planner statistics, as a database in service has them
        connection.execute(text("ANALYZE"))
        connection.commit()
    return SeedReport(kiosks=len(kiosk_rows), halls=halls, alerts_open=sum(1 for a in alert_rows if not a["cleared_at"]),
                      seconds=time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Seed a fleet database with simulated Chongqing kiosks.")
    parser.add_argument("url", help="database URL, e.g. sqlite:///fleet-10k.db or postgresql+psycopg://...")
    parser.add_argument("--kiosks", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    db = Database(args.url)
    try:
        report = seed(db, args.kiosks, seed=args.seed)
    finally:
        db.close()
    print(f"seeded {report.kiosks} kiosks in {report.halls} halls, {report.alerts_open} open alerts, "
          f"in {report.seconds:.1f} s")


if __name__ == "__main__":
    main()
