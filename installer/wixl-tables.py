#!/usr/bin/env python3
"""Writes into a wixl-built MSI the rows that candle (WiX 3) writes from
installer/portserve.wxs and wixl 0.101 leaves out:
  installer/wixl-tables.py PORTSERVE.WXS BUILT.MSI

  * MajorUpgrade/@AllowSameVersionUpgrades="yes": the upgrade row of the
    Upgrade table gets msidbUpgradeAttributesVersionMaxInclusive (0x200), so
    FindRelatedProducts also finds an installed product of the same version.
  * ServiceInstall/ServiceConfig: MsiServiceConfig rows (PreShutdownDelay ->
    SERVICE_CONFIG_PRESHUTDOWN_INFO).
  * ServiceInstall/ServiceConfigFailureActions: MsiServiceConfigFailureActions
    rows.
  * MsiConfigureServices in InstallExecuteSequence, between InstallServices
    and StartServices (the action's documented sequence restriction), at
    candle's position and condition.

The values are read from the .wxs, so they are written once: wixl cannot
parse the two ServiceInstall children (it aborts), so build-msi.sh passes
-D Wixl=1 and the .wxs hides them from it with <?ifndef var.Wixl?>; this
script reads the file as plain XML, where they are visible.
Column layouts: Microsoft's "MsiServiceConfig Table" and
"MsiServiceConfigFailureActions Table" pages (Windows Installer 5.0)."""
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = {"w": "http://schemas.microsoft.com/wix/2006/wi"}
# msidbServiceConfigEvent*
EVENTS = {"OnInstall": 1, "OnUninstall": 2, "OnReinstall": 4}
# SC_ACTION_TYPE, as candle maps Failure/@Action.
FAILURE_ACTIONS = {"none": 0, "restartService": 1, "restartComputer": 2, "runCommand": 3}
SERVICE_CONFIG_PRESHUTDOWN_INFO = 7
VERSION_MAX_INCLUSIVE = 0x200
# The standard sequence numbers candle uses (InstallServices 5800, StartServices 5900).
MSI_CONFIGURE_SERVICES = ("MsiConfigureServices", 'VersionMsi >= "5.00"', 5850)

# Event and ConfigType are "Integer" (16-bit) columns; ResetPeriod is a number
# of seconds (a day is 86400, beyond 16 bits), so it is 32-bit, as in candle's
# table definitions.
CREATE_SERVICE_CONFIG = (
    "CREATE TABLE `MsiServiceConfig` (`MsiServiceConfig` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL, "
    "`Event` SHORT NOT NULL, `ConfigType` SHORT NOT NULL, `Argument` CHAR(255), `Component_` CHAR(72) NOT NULL "
    "PRIMARY KEY `MsiServiceConfig`)")
CREATE_FAILURE_ACTIONS = (
    "CREATE TABLE `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions` CHAR(72) NOT NULL, "
    "`Name` CHAR(255) NOT NULL, `Event` SHORT NOT NULL, `ResetPeriod` LONG, `RebootMessage` CHAR(255), "
    "`Command` CHAR(255), `Actions` CHAR(255), `DelayActions` CHAR(255), `Component_` CHAR(72) NOT NULL "
    "PRIMARY KEY `MsiServiceConfigFailureActions`)")


def insert(table, row):
    """INSERT of the (column, SQL literal) pairs whose value is not None
    (libmsi's SQL has no NULL literal: a column left out is null)."""
    row = [(c, v) for c, v in row if v is not None]
    return "INSERT INTO `%s` (%s) VALUES (%s)" % (
        table, ", ".join("`%s`" % c for c, _ in row), ", ".join(str(v) for _, v in row))


def sql_str(value):
    if value is None:
        return None
    if "'" in value:
        raise ValueError("quote in %r" % value)
    return "'%s'" % value


def event(elem):
    bits = sum(bit for attr, bit in EVENTS.items() if elem.get(attr) == "yes")
    if bits == 0:
        raise ValueError("<%s> under ServiceInstall sets none of %s" % (elem.tag, ", ".join(EVENTS)))
    return bits


def allows_same_version_upgrades(root):
    upgrade = root.find(".//w:MajorUpgrade", NS)
    return upgrade is not None and upgrade.get("AllowSameVersionUpgrades") == "yes"


def service_config_queries(root):
    """The SQL that creates and fills the two tables and sequences MsiConfigureServices."""
    out = []
    config_rows, failure_rows = [], []
    for component in root.iter("{%s}Component" % NS["w"]):
        for service in component.findall("w:ServiceInstall", NS):
            name = service.get("Name")
            for cfg in service.findall("w:ServiceConfig", NS):
                unknown = set(cfg.attrib) - set(EVENTS) - {"PreShutdownDelay"}
                if unknown:
                    raise ValueError("ServiceConfig: attributes this script does not translate: %s" % sorted(unknown))
                if cfg.get("PreShutdownDelay") is not None:
                    config_rows.append(insert("MsiServiceConfig", [
                        ("MsiServiceConfig", sql_str(name + "PreShutdown")), ("Name", sql_str(name)),
                        ("Event", event(cfg)), ("ConfigType", SERVICE_CONFIG_PRESHUTDOWN_INFO),
                        ("Argument", sql_str(str(int(cfg.get("PreShutdownDelay"))))),
                        ("Component_", sql_str(component.get("Id")))]))
            for fa in service.findall("w:ServiceConfigFailureActions", NS):
                unknown = set(fa.attrib) - set(EVENTS) - {"ResetPeriod"}
                if unknown:
                    raise ValueError("ServiceConfigFailureActions: attributes not translated: %s" % sorted(unknown))
                failures = fa.findall("w:Failure", NS)
                actions = "[~]".join(str(FAILURE_ACTIONS[f.get("Action")]) for f in failures)
                delays = "[~]".join(str(int(f.get("Delay"))) for f in failures)
                reset = fa.get("ResetPeriod")
                failure_rows.append(insert("MsiServiceConfigFailureActions", [
                    ("MsiServiceConfigFailureActions", sql_str(name)), ("Name", sql_str(name)), ("Event", event(fa)),
                    ("ResetPeriod", None if reset is None else int(reset)), ("Actions", sql_str(actions)),
                    ("DelayActions", sql_str(delays)), ("Component_", sql_str(component.get("Id")))]))
    if config_rows:
        out += [CREATE_SERVICE_CONFIG] + config_rows
    if failure_rows:
        out += [CREATE_FAILURE_ACTIONS] + failure_rows
    if config_rows or failure_rows:
        action, condition, sequence = MSI_CONFIGURE_SERVICES
        out.append(insert("InstallExecuteSequence", [
            ("Action", sql_str(action)), ("Condition", sql_str(condition)), ("Sequence", sequence)]))
    return out


def msibuild(msi, query):
    p = subprocess.run(["msibuild", msi, "-q", query], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s: msibuild failed on: %s\n%s" % (sys.argv[0], query, p.stdout + p.stderr))


def upgrade_rows(msi):
    p = subprocess.run(["msiinfo", "export", msi, "Upgrade"], capture_output=True, text=True, check=True)
    # Three header lines (names, types, table name and keys), then the rows.
    return [line.rstrip("\r").split("\t") for line in p.stdout.splitlines()[3:] if line.strip()]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: %s PORTSERVE.WXS BUILT.MSI" % sys.argv[0])
    wxs, msi = sys.argv[1], sys.argv[2]
    root = ET.parse(wxs).getroot()
    if allows_same_version_upgrades(root):
        rows = [r for r in upgrade_rows(msi) if r[6] == "WIX_UPGRADE_DETECTED"]
        if len(rows) != 1:
            sys.exit("%s: expected one WIX_UPGRADE_DETECTED row in the Upgrade table, found %r" % (sys.argv[0], rows))
        code, vmin, vmax, lang, attrs, remove, prop = rows[0]
        # Attributes is part of the Upgrade table's primary key: replace the
        # row rather than update a key in place.
        msibuild(msi, "DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'")
        msibuild(msi, insert("Upgrade", [
            ("UpgradeCode", sql_str(code)), ("VersionMin", sql_str(vmin or None)),
            ("VersionMax", sql_str(vmax or None)), ("Language", sql_str(lang or None)),
            ("Attributes", int(attrs) | VERSION_MAX_INCLUSIVE), ("Remove", sql_str(remove or None)),
            ("ActionProperty", sql_str(prop))]))
    for query in service_config_queries(root):
        msibuild(msi, query)


if __name__ == "__main__":
    main()
