"""Tickets for tests, shaped like the design's section 6 examples."""

from __future__ import annotations

from spoolq.enstore.cachefs import conventional_entry


def written_ticket(file_id: str = "000E00000000000000095D5220", cache: str = "/mnt/cache", size: int = 10):
    return {
        "cache": {
            "arch": {"id": "cdf", "type": "enstore"},
            "ns": {"id": "cdf", "type": "pnfs", "mnt": "/pnfs/fnal.gov"},
            "en": conventional_entry(cache, file_id, "cache01"),
        },
        "file": {"name": f"/pnfs/fs/usr/{file_id}.root", "id": file_id, "size": size},
        "enstore": {
            "vc": {
                "library": "CD-LT04G1",
                "storage_group": "cms",
                "file_family": "Commissioning08",
                "wrapper": "cpio_odc",
                "file_family_width": "2",
            }
        },
    }


def missed_ticket(file_id: str, container: str, crc: int, size: int = 10) -> dict:
    ticket = written_ticket(file_id, size=size)
    del ticket["cache"]["en"]
    ticket["file"]["crc_adler32"] = crc
    ticket["enstore"].update(bfid=container, location_cookie=file_id)
    return ticket
