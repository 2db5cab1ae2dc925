// The MSI's LISTEN property ("SERVICE=[HOST]:PORT...", the --listen syntax)
// split into the key and the value of a [listeners] line of portserve.ini,
// for the IniFile row that writes it (installer/portserve.wxs). Windows
// Installer's formatted strings cannot cut a string, so this immediate custom
// action does it; everything else about the line is the IniFile table's.
// JScript, not a DLL: two properties set from one do not warrant a native
// custom action with a build of its own in both MSI builds; not VBScript,
// which Windows is deprecating.
//
// The value itself is not checked here: the service reads the file at every
// start and reports a bad listener as a configuration error (exit code 1,
// file and line in the log), as it does for a line an operator typed.
function splitListen() {
  var listen = Session.Property("LISTEN");
  var eq = listen.indexOf("=");
  if (eq <= 0 || eq == listen.length - 1) {
    // A failure return ends the install (error 1603); the log names it.
    // Field 0 is a template ([1] is field 1, verbatim; other brackets would
    // be read as properties), so the value goes in a field of its own.
    var record = Session.Installer.CreateRecord(1);
    record.StringData(0) = "LISTEN=[1]: expected SERVICE=HOST:PORT or SERVICE=:PORT (the --listen syntax), " +
                           "e.g. LISTEN=\"echo=:7\"";
    record.StringData(1) = listen;
    Session.Message(0x01000000 /* INSTALLMESSAGE_ERROR */, record);
    return 3; // msiDoActionStatusFailure
  }
  Session.Property("LISTEN_SERVICE") = listen.substring(0, eq);
  Session.Property("LISTEN_ADDRESS") = listen.substring(eq + 1);
  return 1; // msiDoActionStatusSuccess
}
