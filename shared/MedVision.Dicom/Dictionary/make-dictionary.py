#!/usr/bin/python3
"""Regenerates tags.tsv, private-tags.tsv and uids.tsv from the DICOM dictionaries
that ship with Debian's dcmtk and pydicom packages (standard library only).

    /usr/bin/python3 shared/MedVision.Dicom/Dictionary/make-dictionary.py

Inputs (override with --dcmtk-dir / --pydicom-dir):
  <dcmtk>/dicom.dic      public data dictionary   -> tags.tsv
  <dcmtk>/private.dic    private dictionary       -> private-tags.tsv
  <pydicom>/_uid_dict.py UID registry (PS3.6 A)   -> uids.tsv
  <pydicom>/_dicom_dict.py attribute names only (dcmtk has keywords, not names)

The TSVs are read at build time by MedVision.Dicom.Generators; see README.md.
"""

import argparse
import ast
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# dcmtk pseudo VRs (dcmdata/dcvr.h) mapped to the VRs the standard allows.
PSEUDO_VRS = {
    "ox": "OB|OW",      # OB or OW depending on context
    "px": "OB|OW",      # pixel data: OB or OW
    "xs": "US|SS",      # US or SS depending on Pixel Representation
    "lt": "US|SS|OW",   # LUT data: US, SS or OW
    "up": "UL",         # unsigned pointer (DICOMDIR offsets), encoded as UL
    "na": "",           # item and delimitation tags carry no VR
}
REAL_VRS = set(
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)

# dcmtk comments out the masked forms of a few retired ACR-NEMA attributes because it
# cannot express them, and lists them under a concrete element instead; its comments
# give the standard's masks (PS3.6 table 6-1 agrees). We keep dcmtk's concrete entry
# and add the mask, so (1000,0020) resolves to EscapeTriplet as the standard says.
COMMENTED_MASKS = {
    "EscapeTriplet": "1000,xxx0",
    "RunLengthTriplet": "1000,xxx1",
    "HuffmanTableSize": "1000,xxx2",
    "HuffmanTableTriplet": "1000,xxx3",
    "ShiftTableSize": "1000,xxx4",
    "ShiftTableTriplet": "1000,xxx5",
    "ZonalMap": "1010,xxxx",
}


def package_version(path):
    """'<package> <version>' of the Debian package owning path, or 'unknown package'."""
    try:
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, check=True).stdout
        pkg = owner.split(":")[0].strip()
        ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=True).stdout
        return f"{pkg} {ver.strip()}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown package"


def map_vr(vr, where):
    if vr in PSEUDO_VRS:
        return PSEUDO_VRS[vr]
    if vr not in REAL_VRS:
        sys.exit(f"{where}: unknown VR '{vr}'")
    return vr


def range_to_mask(lo, hi, where):
    """'6000','60FF' -> '60xx'; the range must cover whole hex digits."""
    out = []
    for a, b in zip(lo.upper(), hi.upper()):
        if a == b:
            out.append(a)
        elif a == "0" and b == "F":
            out.append("x")
        else:
            sys.exit(f"{where}: range {lo}-{hi} is not expressible with x digits")
    return "".join(out)


def parse_dcmtk_tag(text, where):
    """dcmtk '(gggg[-gggg],eeee[-eeee])' -> 'gggg,eeee' with x digits; None for odd/any-parity ranges."""
    m = re.fullmatch(r"\(([0-9A-Fa-f]{4})(?:-([ou]-)?([0-9A-Fa-f]{4}))?,([0-9A-Fa-f]{4})(?:-([ou]-)?([0-9A-Fa-f]{4}))?\)", text)
    if not m:
        sys.exit(f"{where}: cannot parse tag {text}")
    g_lo, g_par, g_hi, e_lo, e_par, e_hi = m.groups()
    if g_par or e_par:
        return None  # -o-/-u- ranges are dcmtk's catch-all rules (group length, private creator)
    group = range_to_mask(g_lo, g_hi, where) if g_hi else g_lo.upper()
    element = range_to_mask(e_lo, e_hi, where) if e_hi else e_lo.upper()
    return f"{group},{element}"


def load_pydicom_names(path):
    """{'gggg,eeee' (x for repeaters): (name, keyword)} from pydicom's _dicom_dict.py."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if getattr(target, "id", None) in ("DicomDictionary", "RepeatersDictionary"):
                for key, value in ast.literal_eval(node.value).items():
                    key = f"{key:08X}" if isinstance(key, int) else key.upper().replace("X", "x")
                    names[f"{key[:4]},{key[4:]}"] = (value[2], value[4])
    return names


def make_tags(dic_path, names):
    rows = {}
    section_retired = False
    with open(dic_path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            where = f"{dic_path}:{lineno}"
            if line.startswith("#"):
                if "Retired" in line and "generated automatically" in line:
                    section_retired = True
                continue
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 5:
                sys.exit(f"{where}: expected 5 tab-separated fields, got {len(fields)}")
            tag_text, vr, keyword, vm, version = fields
            tag = parse_dcmtk_tag(tag_text, where)
            if tag is None:
                continue
            retired = keyword.startswith("RETIRED_") or version.endswith("/retired")
            if keyword.startswith("RETIRED_"):
                keyword = keyword[len("RETIRED_"):]
            if section_retired and not retired:
                sys.exit(f"{where}: entry in the retired section is not marked retired")
            rows[tag] = [tag, map_vr(vr, where), vm, keyword, "1" if retired else "0", version]
    # Masked forms of the retired ACR-NEMA attributes (see COMMENTED_MASKS and (0028,04x0)).
    by_keyword = {r[3]: r for r in rows.values()}
    commented = re.compile(r"^#\(([0-9A-F]{4}),([0-9A-FX]{4})\)\t(\w+)\t(\w+)\t(\S+)\t(\S+)$")
    with open(dic_path, encoding="utf-8") as f:
        for raw in f:
            m = commented.match(raw.rstrip("\n"))
            if m and "X" in m.group(2):
                g, e, vr, kw, vm, version = m.groups()
                kw = kw[len("RETIRED_"):] if kw.startswith("RETIRED_") else kw
                tag = f"{g},{e.replace('X', 'x')}"
                rows.setdefault(tag, [tag, map_vr(vr, dic_path), vm, kw, "1", version])
    for kw, tag in COMMENTED_MASKS.items():
        src = by_keyword.get(kw)
        if src is None:
            sys.exit(f"{dic_path}: expected a concrete entry for {kw}")
        rows.setdefault(tag, [tag, src[1], src[2], kw, "1", src[5]])
    # Only trust a name where both sources agree on the keyword; dcmtk's concrete stand-ins
    # for masked attributes (e.g. (0028,0410)) take the name of pydicom's masked entry.
    name_by_keyword = {kw: name for name, kw in names.values()}
    out = []
    unnamed = 0
    for tag in sorted(rows, key=lambda t: t.replace("x", "0")):
        row = rows[tag]
        name, pkw = names.get(tag, ("", ""))
        if pkw != row[3]:
            name = name_by_keyword.get(row[3], "")
        if not name:
            unnamed += 1
        out.append(row + [name])
    return out, unnamed


def make_private_tags(dic_path):
    rows = {}
    pattern = re.compile(r'\(([0-9A-Fa-f]{4})(?:-(o-)?([0-9A-Fa-f]{4}))?,"([^"]*)",([0-9A-Fa-f]{2}|[0-9A-Fa-f]{4})\)')
    with open(dic_path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            where = f"{dic_path}:{lineno}"
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) not in (4, 5):  # a few private.dic lines omit the version column
                sys.exit(f"{where}: expected 4 or 5 tab-separated fields, got {len(fields)}")
            tag_text, vr, keyword, vm = fields[:4]
            m = pattern.fullmatch(tag_text)
            if not m:
                sys.exit(f"{where}: cannot parse private tag {tag_text}")
            g_lo, odd, g_hi, creator, element = m.groups()
            if g_hi:
                if not odd:
                    sys.exit(f"{where}: private group range without -o-")
                group = range_to_mask(g_lo[:-1] + "0", g_hi, where)
            else:
                group = g_lo.upper()
            if "\t" in creator or "\t" in keyword:
                sys.exit(f"{where}: tab inside a field")
            key = (group, creator, element.upper())
            rows[key] = [group, creator, element.upper(), map_vr(vr, where), vm, keyword]  # later entries override
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0].replace("x", "0"), k[1], k[2].zfill(4)))]


def make_uids(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    table = None
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if getattr(target, "id", None) == "UID_dictionary":
                table = ast.literal_eval(node.value)
    if table is None:
        sys.exit(f"{path}: no UID_dictionary")
    out = []
    for uid, (name, kind, info, retired, keyword) in table.items():
        for field in (uid, name, kind, info, keyword):
            if "\t" in field or "\n" in field:
                sys.exit(f"{path}: tab or newline in {uid}")
        out.append([uid, keyword, name, kind, "1" if retired else "0", info])
    out.sort(key=lambda r: [int(p) for p in r[0].split(".")])
    return out


def write_tsv(path, header_lines, columns, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for h in header_lines:
            f.write(f"# {h}\n")
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print(f"{os.path.relpath(path)}: {len(rows)} rows")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dcmtk-dir", default="/usr/share/libdcmtk17")
    ap.add_argument("--pydicom-dir", default="/usr/lib/python3/dist-packages/pydicom")
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()

    dicom_dic = os.path.join(args.dcmtk_dir, "dicom.dic")
    private_dic = os.path.join(args.dcmtk_dir, "private.dic")
    uid_dict = os.path.join(args.pydicom_dir, "_uid_dict.py")
    dicom_dict = os.path.join(args.pydicom_dir, "_dicom_dict.py")
    dcmtk_pkg = package_version(dicom_dic)
    pydicom_pkg = package_version(uid_dict)
    generated = "Generated by make-dictionary.py; do not edit by hand."

    m = re.search(r"Generated automatically from (.*)\.", open(dicom_dic, encoding="utf-8").read())
    edition = m.group(1) if m else "unknown edition"
    tags, unnamed = make_tags(dicom_dic, load_pydicom_names(dicom_dict))
    write_tsv(
        os.path.join(args.out, "tags.tsv"),
        [
            generated,
            f"Source: {dicom_dic} ({dcmtk_pkg}; {edition}).",
            f"Names: {dicom_dict} ({pydicom_pkg}), only where its keyword matches dcmtk's; {unnamed} rows have none.",
            "tag: gggg,eeee; x marks a repeating hex digit (60xx,3000 = even groups 6000-60FE).",
            "vr: | separates alternatives (dcmtk ox/px -> OB|OW, xs -> US|SS, lt -> US|SS|OW, up -> UL, na -> empty).",
            "keyword: dcmtk's name without its RETIRED_ prefix; retired: 1 when dcmtk marks it retired.",
            "Not listed (the dictionary implements dcmtk's catch-all rules in code): (gggg,0000) group length UL,",
            "odd (gggg,0010-00FF) private creator LO.",
        ],
        ["tag", "vr", "vm", "keyword", "retired", "version", "name"],
        tags,
    )
    private_tags = make_private_tags(private_dic)
    write_tsv(
        os.path.join(args.out, "private-tags.tsv"),
        [
            generated,
            f"Source: {private_dic} ({dcmtk_pkg}).",
            "group: odd group; x marks a repeating hex digit. creator: private creator value.",
            "element: 2 hex digits = low byte within whichever block the creator reserved;",
            "4 hex digits = a fixed element (dcmtk's (gggg,\"CREATOR\",eeee) form). Later dcmtk entries override.",
        ],
        ["group", "creator", "element", "vr", "vm", "keyword"],
        private_tags,
    )
    uids = make_uids(uid_dict)
    write_tsv(
        os.path.join(args.out, "uids.tsv"),
        [
            generated,
            f"Source: {uid_dict} ({pydicom_pkg}; UID_dictionary of PS3.6 annex A).",
        ],
        ["uid", "keyword", "name", "type", "retired", "info"],
        uids,
    )


if __name__ == "__main__":
    main()
