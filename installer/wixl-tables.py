#!/usr/bin/env python3
"""Writes into a wixl-built MSI the rows that candle (WiX 3) writes from
installer/portserve.wxs and wixl 0.101 leaves out:
  installer/wixl-tables.py PORTSERVE.WXS BUILT.MSI

  * MajorUpgrade/@AllowSameVersionUpgrades="yes": the upgrade row of the
    Upgrade table gets msidbUpgradeAttributesVersionMaxInclusive (0x200), so
    FindRelatedProducts also finds an installed product of the same version.
  * Component/@Permanent, @NeverOverwrite (Attributes bits) and
    Component/Condition (the Condition column).
  * Property/@Secure: the property's name in SecureCustomProperties.
  * Property/DirectorySearch/FileSearch and Property/ComponentSearch:
    AppSearch, Signature, DrLocator and CompLocator rows, and AppSearch in
    both sequences.
  * Environment (Environment table; Write/RemoveEnvironmentStrings), IniFile
    (IniFile table; Write/RemoveIniValues), CopyFile from a property (MoveFile
    table; MoveFiles), CreateFolder/PermissionEx/@Sddl (MsiLockPermissionsEx).
  * CustomAction/@Directory + @ExeCommand (type 34: an exe run in a folder)
    and the Custom elements of InstallExecuteSequence that schedule them.
  * ServiceInstall/ServiceConfig: MsiServiceConfig rows (DelayedAutoStart,
    FailureActionsWhen, ServiceSid, RequiredPrivilege, PreShutdownDelay).
  * ServiceInstall/ServiceConfigFailureActions: MsiServiceConfigFailureActions
    rows.
  * MsiConfigureServices in InstallExecuteSequence, between InstallServices
    and StartServices (the action's documented sequence restriction), at
    candle's position and condition.

The values are read from the .wxs, so they are written once: wixl aborts on
the elements it does not know, so build-msi.sh passes -D Wixl=1 and the .wxs
hides them from it with <?ifndef var.Wixl?>; this script reads the file as
plain XML, where they are visible. Column layouts and standard sequence
numbers: Microsoft's pages for each table and action (Windows Installer 5.0).
"""
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = {"w": "http://schemas.microsoft.com/wix/2006/wi"}
W = "{%s}" % NS["w"]
# msidbServiceConfigEvent*
EVENTS = {"OnInstall": 1, "OnUninstall": 2, "OnReinstall": 4}
# SC_ACTION_TYPE, as candle maps Failure/@Action.
FAILURE_ACTIONS = {"none": 0, "restartService": 1, "restartComputer": 2, "runCommand": 3}
# MsiServiceConfig.ConfigType
SERVICE_CONFIG_DELAYED_AUTO_START_INFO = 3
SERVICE_CONFIG_FAILURE_ACTIONS_FLAG = 4
SERVICE_CONFIG_SERVICE_SID_INFO = 5
SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO = 6
SERVICE_CONFIG_PRESHUTDOWN_INFO = 7
SERVICE_SID_TYPES = {"none": 0, "unrestricted": 1, "restricted": 3}
YES_NO = {"yes": "1", "no": "0"}
FAILURE_ACTIONS_WHEN = {"failedToStopOrReturnedError": "1", "failedToStop": "0"}
VERSION_MAX_INCLUSIVE = 0x200
# msidbComponentAttributes*
COMPONENT_PERMANENT, COMPONENT_NEVER_OVERWRITE = 16, 128
# msidbIniFileAction*
INI_ACTIONS = {"addLine": 0, "createLine": 1, "addTag": 3}
# msidbLocatorType*
LOCATOR_TYPES = {"directory": 0, "file": 1}
# msidbCustomAction*: type 34 is an exe (2) in a directory (32).
CA_EXE_IN_DIRECTORY = 34
CA_EXECUTE = {None: 0, "immediate": 0, "deferred": 0x400, "rollback": 0x500, "commit": 0x600}
CA_RETURN = {None: 0, "check": 0, "ignore": 0x40, "asyncWait": 0x80, "asyncNoWait": 0xC0}
CA_NO_IMPERSONATE = 0x800
# Standard actions this script may have to add, at their documented sequence numbers.
STANDARD_ACTIONS = {
    "AppSearch": 50, "RemoveIniValues": 3100, "RemoveEnvironmentStrings": 3300, "MoveFiles": 3800,
    "WriteIniValues": 5100, "WriteEnvironmentStrings": 5200,
}
# The standard sequence numbers candle uses (InstallServices 5800, StartServices 5900).
MSI_CONFIGURE_SERVICES = ("MsiConfigureServices", 'VersionMsi >= "5.00"', 5850)

# Event and ConfigType are "Integer" (16-bit) columns; ResetPeriod is a number
# of seconds (a day is 86400, beyond 16 bits), so it is 32-bit, as in candle's
# table definitions. libmsi's SQL spells a column of unlimited length LONGCHAR.
CREATE = {
    "MsiServiceConfig": (
        "CREATE TABLE `MsiServiceConfig` (`MsiServiceConfig` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL, "
        "`Event` SHORT NOT NULL, `ConfigType` SHORT NOT NULL, `Argument` CHAR(255), `Component_` CHAR(72) NOT NULL "
        "PRIMARY KEY `MsiServiceConfig`)"),
    "MsiServiceConfigFailureActions": (
        "CREATE TABLE `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions` CHAR(72) NOT NULL, "
        "`Name` CHAR(255) NOT NULL, `Event` SHORT NOT NULL, `ResetPeriod` LONG, `RebootMessage` CHAR(255), "
        "`Command` CHAR(255), `Actions` CHAR(255), `DelayActions` CHAR(255), `Component_` CHAR(72) NOT NULL "
        "PRIMARY KEY `MsiServiceConfigFailureActions`)"),
    "Environment": (
        "CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, "
        "`Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)"),
    "IniFile": (
        "CREATE TABLE `IniFile` (`IniFile` CHAR(72) NOT NULL, `FileName` CHAR(255) NOT NULL LOCALIZABLE, "
        "`DirProperty` CHAR(72), `Section` CHAR(96) NOT NULL LOCALIZABLE, `Key` CHAR(128) NOT NULL LOCALIZABLE, "
        "`Value` CHAR(255) NOT NULL LOCALIZABLE, `Action` SHORT NOT NULL, `Component_` CHAR(72) NOT NULL "
        "PRIMARY KEY `IniFile`)"),
    "MoveFile": (
        "CREATE TABLE `MoveFile` (`FileKey` CHAR(72) NOT NULL, `Component_` CHAR(72) NOT NULL, "
        "`SourceName` CHAR(255) LOCALIZABLE, `DestName` CHAR(255) LOCALIZABLE, `SourceFolder` CHAR(72), "
        "`DestFolder` CHAR(72) NOT NULL, `Options` SHORT NOT NULL PRIMARY KEY `FileKey`)"),
    "DrLocator": (
        "CREATE TABLE `DrLocator` (`Signature_` CHAR(72) NOT NULL, `Parent` CHAR(72), `Path` CHAR(255), "
        "`Depth` SHORT PRIMARY KEY `Signature_`, `Parent`)"),
    "CompLocator": (
        "CREATE TABLE `CompLocator` (`Signature_` CHAR(72) NOT NULL, `ComponentId` CHAR(38) NOT NULL, "
        "`Type` SHORT PRIMARY KEY `Signature_`)"),
    "MsiLockPermissionsEx": (
        "CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, "
        "`LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDL` LONGCHAR NOT NULL, "
        "`Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)"),
}


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


def check_attributes(elem, known):
    unknown = set(elem.attrib) - set(known)
    if unknown:
        raise ValueError("%s: attributes this script does not translate: %s" % (elem.tag[len(W):], sorted(unknown)))


def allows_same_version_upgrades(root):
    upgrade = root.find(".//w:MajorUpgrade", NS)
    return upgrade is not None and upgrade.get("AllowSameVersionUpgrades") == "yes"


def parents(root):
    return {child: parent for parent in root.iter() for child in parent}


def component_directory(component, parent_of):
    """The Id of the Directory (or DirectoryRef) a component sits in."""
    node = parent_of[component]
    while node.tag not in (W + "Directory", W + "DirectoryRef"):
        node = parent_of[node]
    return node.get("Id")


class Msi:
    """The built MSI, read with msiinfo and changed with msibuild."""

    def __init__(self, path):
        self.path = path
        p = subprocess.run(["msiinfo", "tables", path], capture_output=True, text=True, check=True)
        self.tables = set(p.stdout.split())

    def run(self, query):
        p = subprocess.run(["msibuild", self.path, "-q", query], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("%s: msibuild failed on: %s\n%s" % (sys.argv[0], query, p.stdout + p.stderr))

    def rows(self, table):
        p = subprocess.run(["msiinfo", "export", self.path, table], capture_output=True, text=True, check=True)
        # Three header lines (names, types, table name and keys), then the rows.
        return [line.rstrip("\r").split("\t") for line in p.stdout.splitlines()[3:] if line.strip()]

    def insert(self, table, row):
        if table not in self.tables:
            self.run(CREATE[table])
            self.tables.add(table)
        self.run(insert(table, row))

    def sequence(self, table):
        return {r[0]: int(r[2]) for r in self.rows(table)}

    def add_action(self, table, action, number, condition=None):
        """Sequences `action` at `number` unless it is there already; a number
        taken by another action moves it up to the next free one."""
        taken = self.sequence(table)
        if action in taken:
            return taken[action]
        while number in taken.values():
            number += 1
        self.run(insert(table, [("Action", sql_str(action)), ("Condition", sql_str(condition)),
                                ("Sequence", number)]))
        return number


def fix_upgrade(msi):
    rows = [r for r in msi.rows("Upgrade") if r[6] == "WIX_UPGRADE_DETECTED"]
    if len(rows) != 1:
        sys.exit("%s: expected one WIX_UPGRADE_DETECTED row in the Upgrade table, found %r" % (sys.argv[0], rows))
    code, vmin, vmax, lang, attrs, remove, prop = rows[0]
    # Attributes is part of the Upgrade table's primary key: replace the
    # row rather than update a key in place.
    msi.run("DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'")
    msi.run(insert("Upgrade", [
        ("UpgradeCode", sql_str(code)), ("VersionMin", sql_str(vmin or None)),
        ("VersionMax", sql_str(vmax or None)), ("Language", sql_str(lang or None)),
        ("Attributes", int(attrs) | VERSION_MAX_INCLUSIVE), ("Remove", sql_str(remove or None)),
        ("ActionProperty", sql_str(prop))]))


def components(root, msi):
    """Component attributes and conditions."""
    attributes = {r[0]: int(r[3]) for r in msi.rows("Component")}
    for component in root.iter(W + "Component"):
        name = component.get("Id")
        bits = (COMPONENT_PERMANENT if component.get("Permanent") == "yes" else 0) | \
               (COMPONENT_NEVER_OVERWRITE if component.get("NeverOverwrite") == "yes" else 0)
        if bits and attributes[name] | bits != attributes[name]:
            msi.run("UPDATE `Component` SET `Attributes` = %d WHERE `Component` = '%s'"
                    % (attributes[name] | bits, name))
        condition = component.find("w:Condition", NS)
        if condition is not None:
            msi.run("UPDATE `Component` SET `Condition` = %s WHERE `Component` = '%s'"
                    % (sql_str(condition.text.strip()), name))


def properties(root, msi):
    """Secure properties and the searches that set properties."""
    secure = [p.get("Id") for p in root.iter(W + "Property") if p.get("Secure") == "yes"]
    searched = False
    for prop in root.iter(W + "Property"):
        for search in prop.findall("w:DirectorySearch", NS):
            check_attributes(search, ["Id", "Path", "Depth"])
            files = search.findall("w:FileSearch", NS)
            if len(files) != 1:
                raise ValueError("DirectorySearch %s: one FileSearch expected" % search.get("Id"))
            check_attributes(files[0], ["Id", "Name"])
            # As candle writes a directory search holding a file search: one
            # DrLocator row keyed by the file's signature.
            signature = files[0].get("Id")
            msi.insert("Signature", [("Signature", sql_str(signature)), ("FileName", sql_str(files[0].get("Name")))])
            msi.insert("DrLocator", [("Signature_", sql_str(signature)), ("Path", sql_str(search.get("Path"))),
                                     ("Depth", int(search.get("Depth", "0")))])
            msi.insert("AppSearch", [("Property", sql_str(prop.get("Id"))), ("Signature_", sql_str(signature))])
            searched = True
        for search in prop.findall("w:ComponentSearch", NS):
            check_attributes(search, ["Id", "Guid", "Type"])
            msi.insert("CompLocator", [("Signature_", sql_str(search.get("Id"))),
                                       ("ComponentId", sql_str("{%s}" % search.get("Guid").upper())),
                                       ("Type", LOCATOR_TYPES[search.get("Type", "file")])])
            msi.insert("AppSearch", [("Property", sql_str(prop.get("Id"))), ("Signature_", sql_str(search.get("Id")))])
            searched = True
    if searched:
        for table in ("InstallExecuteSequence", "InstallUISequence"):
            msi.add_action(table, "AppSearch", STANDARD_ACTIONS["AppSearch"])
    if secure:
        rows = {r[0]: r[1] for r in msi.rows("Property")}
        names = [n for n in rows.get("SecureCustomProperties", "").split(";") if n]
        names += [n for n in secure if n not in names]
        if "SecureCustomProperties" in rows:
            msi.run("UPDATE `Property` SET `Value` = %s WHERE `Property` = 'SecureCustomProperties'"
                    % sql_str(";".join(names)))
        else:
            msi.insert("Property", [("Property", "'SecureCustomProperties'"), ("Value", sql_str(";".join(names)))])


def component_resources(root, msi):
    """Environment, IniFile, CopyFile and PermissionEx under components."""
    parent_of = parents(root)
    added = set()
    for component in root.iter(W + "Component"):
        name = component.get("Id")
        for env in component.findall("w:Environment", NS):
            check_attributes(env, ["Id", "Name", "Value", "Part", "Action", "System", "Permanent", "Separator"])
            # candle's encoding of the Name column: = set, + create, ! remove;
            # - removed on uninstall; * system variable.
            flags = {"set": "=", "create": "+", "remove": "!"}[env.get("Action", "set")]
            flags += "" if env.get("Permanent") == "yes" else "-"
            flags += "*" if env.get("System") == "yes" else ""
            sep = env.get("Separator", ";")
            value = {"all": "%s", "first": "%s" + sep + "[~]", "last": "[~]" + sep + "%s"}[env.get("Part", "all")] \
                % env.get("Value")
            msi.insert("Environment", [
                ("Environment", sql_str(env.get("Id"))), ("Name", sql_str(flags + env.get("Name"))),
                ("Value", sql_str(value)), ("Component_", sql_str(name))])
            added |= {"WriteEnvironmentStrings", "RemoveEnvironmentStrings"}
        for ini in component.findall("w:IniFile", NS):
            check_attributes(ini, ["Id", "Action", "Directory", "Name", "Section", "Key", "Value"])
            msi.insert("IniFile", [
                ("IniFile", sql_str(ini.get("Id"))), ("FileName", sql_str(ini.get("Name"))),
                ("DirProperty", sql_str(ini.get("Directory"))), ("Section", sql_str(ini.get("Section"))),
                ("Key", sql_str(ini.get("Key"))), ("Value", sql_str(ini.get("Value"))),
                ("Action", INI_ACTIONS[ini.get("Action")]), ("Component_", sql_str(name))])
            added |= {"WriteIniValues", "RemoveIniValues"}
        for copy in component.findall("w:CopyFile", NS):
            check_attributes(copy, ["Id", "SourceProperty", "SourceDirectory", "SourceName", "DestinationDirectory",
                                    "DestinationProperty", "DestinationName", "Delete"])
            msi.insert("MoveFile", [
                ("FileKey", sql_str(copy.get("Id"))), ("Component_", sql_str(name)),
                ("SourceName", sql_str(copy.get("SourceName"))), ("DestName", sql_str(copy.get("DestinationName"))),
                ("SourceFolder", sql_str(copy.get("SourceProperty") or copy.get("SourceDirectory"))),
                ("DestFolder", sql_str(copy.get("DestinationProperty") or copy.get("DestinationDirectory"))),
                ("Options", 1 if copy.get("Delete") == "yes" else 0)])
            added.add("MoveFiles")
        for folder in component.findall("w:CreateFolder", NS):
            for perm in folder.findall("w:PermissionEx", NS):
                check_attributes(perm, ["Id", "Sddl"])
                msi.insert("MsiLockPermissionsEx", [
                    ("MsiLockPermissionsEx", sql_str(perm.get("Id"))),
                    ("LockObject", sql_str(folder.get("Directory") or component_directory(component, parent_of))),
                    ("Table", "'CreateFolder'"), ("SDDL", sql_str(perm.get("Sddl")))])
    for action in sorted(added):
        msi.add_action("InstallExecuteSequence", action, STANDARD_ACTIONS[action])


def custom_actions(root, msi):
    """Type 34 custom actions (wixl has no CustomAction/@Directory) and their
    places in InstallExecuteSequence, which follow their After chains."""
    ours = []
    for ca in root.iter(W + "CustomAction"):
        if ca.get("Directory") is None:
            continue  # wixl writes the others itself
        check_attributes(ca, ["Id", "Directory", "ExeCommand", "Execute", "Impersonate", "Return"])
        kind = CA_EXE_IN_DIRECTORY | CA_EXECUTE[ca.get("Execute")] | CA_RETURN[ca.get("Return")]
        if ca.get("Impersonate") == "no":
            kind |= CA_NO_IMPERSONATE
        msi.run(insert("CustomAction", [("Action", sql_str(ca.get("Id"))), ("Type", kind),
                                        ("Source", sql_str(ca.get("Directory"))),
                                        ("Target", sql_str(ca.get("ExeCommand")))]))
        ours.append(ca.get("Id"))
    sequence = root.find("w:Product/w:InstallExecuteSequence", NS)
    for custom in ([] if sequence is None else sequence.findall("w:Custom", NS)):
        if custom.get("Action") not in ours:
            continue
        check_attributes(custom, ["Action", "After"])
        after = msi.sequence("InstallExecuteSequence")[custom.get("After")]
        msi.add_action("InstallExecuteSequence", custom.get("Action"), after + 1, (custom.text or "").strip() or None)


def service_config(root, msi):
    """MsiServiceConfig and MsiServiceConfigFailureActions rows, MsiConfigureServices."""
    configured = False
    for component in root.iter(W + "Component"):
        for service in component.findall("w:ServiceInstall", NS):
            name = service.get("Name")
            for cfg in service.findall("w:ServiceConfig", NS):
                check_attributes(cfg, list(EVENTS) + ["DelayedAutoStart", "FailureActionsWhen", "ServiceSid",
                                                      "PreShutdownDelay"])
                settings = []
                if cfg.get("DelayedAutoStart") is not None:
                    settings.append(("DelayedAutoStart", SERVICE_CONFIG_DELAYED_AUTO_START_INFO,
                                     YES_NO[cfg.get("DelayedAutoStart")]))
                if cfg.get("FailureActionsWhen") is not None:
                    settings.append(("FailureActionsFlag", SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
                                     FAILURE_ACTIONS_WHEN[cfg.get("FailureActionsWhen")]))
                if cfg.get("ServiceSid") is not None:
                    settings.append(("ServiceSid", SERVICE_CONFIG_SERVICE_SID_INFO,
                                     str(SERVICE_SID_TYPES[cfg.get("ServiceSid")])))
                privileges = [p.text.strip() for p in cfg.findall("w:RequiredPrivilege", NS)]
                if privileges:
                    # The privilege names, each followed by a null ([~]): a
                    # REG_MULTI_SZ list, as candle writes it.
                    settings.append(("RequiredPrivileges", SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO,
                                     "".join(p + "[~]" for p in privileges)))
                if cfg.get("PreShutdownDelay") is not None:
                    settings.append(("PreShutdown", SERVICE_CONFIG_PRESHUTDOWN_INFO,
                                     str(int(cfg.get("PreShutdownDelay")))))
                for suffix, config_type, argument in settings:
                    msi.insert("MsiServiceConfig", [
                        ("MsiServiceConfig", sql_str(name + suffix)), ("Name", sql_str(name)), ("Event", event(cfg)),
                        ("ConfigType", config_type), ("Argument", sql_str(argument)),
                        ("Component_", sql_str(component.get("Id")))])
                    configured = True
            for fa in service.findall("w:ServiceConfigFailureActions", NS):
                check_attributes(fa, list(EVENTS) + ["ResetPeriod"])
                failures = fa.findall("w:Failure", NS)
                actions = "[~]".join(str(FAILURE_ACTIONS[f.get("Action")]) for f in failures)
                delays = "[~]".join(str(int(f.get("Delay"))) for f in failures)
                reset = fa.get("ResetPeriod")
                msi.insert("MsiServiceConfigFailureActions", [
                    ("MsiServiceConfigFailureActions", sql_str(name)), ("Name", sql_str(name)), ("Event", event(fa)),
                    ("ResetPeriod", None if reset is None else int(reset)), ("Actions", sql_str(actions)),
                    ("DelayActions", sql_str(delays)), ("Component_", sql_str(component.get("Id")))])
                configured = True
    if configured:
        action, condition, number = MSI_CONFIGURE_SERVICES
        msi.add_action("InstallExecuteSequence", action, number, condition)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: %s PORTSERVE.WXS BUILT.MSI" % sys.argv[0])
    root = ET.parse(sys.argv[1]).getroot()
    msi = Msi(sys.argv[2])
    if allows_same_version_upgrades(root):
        fix_upgrade(msi)
    components(root, msi)
    properties(root, msi)
    component_resources(root, msi)
    custom_actions(root, msi)
    service_config(root, msi)


if __name__ == "__main__":
    main()
