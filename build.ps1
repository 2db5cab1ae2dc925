<#
.SYNOPSIS
  portserve on Windows: build server.sln with Visual Studio 2022, run the tests, run the server.

.DESCRIPTION
  .\build.ps1 [build|test|run|msi|clean] [-Configuration Debug|Release] [ARGS...]

    build   build portserve.exe and the bench tools for x64 (the default command)
    test    build the whole server.sln, then run x64\<Configuration>\common_tests.exe and
            engine_tests.exe (googletest); ARGS go to both, e.g. --gtest_filter=Conn.*
    run     build, then run x64\<Configuration>\portserve.exe in this console
            (default ARGS: run --listen echo=127.0.0.1:7007; Ctrl+C stops it)
    msi     build, then the installer x64\<Configuration>\portserve-<version>.msi from
            installer\portserve.wxs with the WiX Toolset v3 (candle, light; found through
            the WIX environment variable its installer sets, or on PATH). The version is
            PS_VERSION in server\app\version.h. msi builds Release unless -Configuration
            says otherwise; the other commands default to Debug.
    clean   remove x64\ (binaries and intermediate files)

  Needs Visual Studio 2022 or its Build Tools with the C++ workload (MSBuild, v143,
  a Windows 10/11 SDK); the test command also needs a googletest checkout: GTEST_ROOT,
  or third_party\googletest. The project files are generated from CMake's targets by
  tools/gen_vcxproj.py.

  Under the default execution policy Windows refuses to run a downloaded script; run
  it as  powershell -ExecutionPolicy Bypass -File .\build.ps1 test  or once
  Unblock-File .\build.ps1 .

.EXAMPLE
  .\build.ps1 test -Configuration Release
#>
[CmdletBinding()]
param(
  [Parameter(Position = 0)]
  [ValidateSet('build', 'test', 'run', 'clean', 'msi', 'bench', 'help')]
  [string]$Command = 'build',

  # Debug, except for msi (an installer packages the Release build).
  [ValidateSet('Debug', 'Release')]
  [string]$Configuration,

  [Parameter(Position = 1, ValueFromRemainingArguments = $true)]
  [string[]]$Arguments = @()
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$Root = $PSScriptRoot
$Solution = Join-Path $Root 'server.sln'
# ValidateSet ignores case; MSBuild configuration names and x64\<Config> should not.
if (-not $Configuration) {
  $Configuration = if ($Command -eq 'msi') { 'Release' } else { 'Debug' }
}
$Configuration = if ($Configuration -ieq 'Release') { 'Release' } else { 'Debug' }
$OutDir = Join-Path (Join-Path $Root 'x64') $Configuration

function Write-Step([string]$Message) {
  Write-Host "==> $Message"
}

# One way out on failure: a clear message and exit code 1, no PowerShell stack dump.
function Stop-Build([string]$Message) {
  Write-Host "build.ps1: $Message" -ForegroundColor Red
  exit 1
}

function Find-MSBuild {
  $programFiles = ${env:ProgramFiles(x86)}
  if (-not $programFiles) { $programFiles = $env:ProgramFiles }
  $vswhere = Join-Path $programFiles 'Microsoft Visual Studio\Installer\vswhere.exe'
  if (-not (Test-Path -LiteralPath $vswhere -PathType Leaf)) {
    Stop-Build ("vswhere.exe not found at ${vswhere}: install Visual Studio 2022 or the " +
                "Build Tools for Visual Studio 2022 with the 'Desktop development with C++' workload.")
  }
  # -products *: the Build Tools are a product of their own, which vswhere leaves out
  # by default. VS 2022 (17.x) is what the projects' v143 toolset needs, and the
  # x64 compiler component is what the C++ workload brings.
  $found = @(& $vswhere -latest -products '*' -version '[17.0,18.0)' `
    -requires Microsoft.Component.MSBuild Microsoft.VisualStudio.Component.VC.Tools.x86.x64 `
    -find 'MSBuild\**\Bin\MSBuild.exe')
  if ($LASTEXITCODE -ne 0) {
    Stop-Build "vswhere.exe failed (exit code $LASTEXITCODE)"
  }
  if ($found.Count -eq 0 -or -not $found[0]) {
    Stop-Build ("no Visual Studio 2022 (17.x) with MSBuild and the x64 C++ compiler found by " +
                "vswhere: install Visual Studio 2022 or its Build Tools with the " +
                "'Desktop development with C++' workload.")
  }
  return [string]$found[0]
}

# The tests project compiles googletest from source: GTEST_ROOT or third_party\googletest.
function Get-GoogleTestRoot {
  if ($env:GTEST_ROOT) {
    $gtestRoot = $env:GTEST_ROOT
    $origin = "GTEST_ROOT ($env:GTEST_ROOT)"
  } else {
    $gtestRoot = Join-Path $Root 'third_party\googletest'
    $origin = 'third_party\googletest'
  }
  $gtestAll = Join-Path $gtestRoot 'googletest\src\gtest-all.cc'
  if (-not (Test-Path -LiteralPath $gtestAll -PathType Leaf)) {
    Write-Host "googletest not found: $gtestAll does not exist."
    Write-Host 'Get googletest v1.12.1 (the version the CMake build uses) once, from the repository root:'
    Write-Host '    git clone --depth 1 --branch release-1.12.1 https://github.com/google/googletest.git third_party\googletest'
    Write-Host 'or point the GTEST_ROOT environment variable at an existing googletest checkout.'
    Stop-Build "googletest missing ($origin)"
  }
  # MSBuild resolves a relative path against each project's folder, not ours.
  return (Resolve-Path -LiteralPath $gtestRoot).ProviderPath
}

# -Tests: the whole solution, googletest included; otherwise only the projects that
# need no googletest (MSBuild builds their ProjectReferences first).
function Invoke-Build([switch]$Tests) {
  $msbuild = Find-MSBuild
  $msbuildArgs = @($Solution, '/nologo', '/m', '/v:minimal', "/p:Configuration=$Configuration", '/p:Platform=x64')
  if ($Tests) {
    $gtestRoot = Get-GoogleTestRoot
    $msbuildArgs += @('/t:Build', "/p:GTEST_ROOT=$gtestRoot")
    Write-Step "building server.sln ($Configuration|x64) with $msbuild"
  } else {
    $msbuildArgs += '/t:portserve;portload;naive_iocp_echo'
    Write-Step "building portserve, portload, naive_iocp_echo ($Configuration|x64) with $msbuild"
  }
  & $msbuild @msbuildArgs
  if ($LASTEXITCODE -ne 0) {
    Stop-Build "MSBuild failed (exit code $LASTEXITCODE)"
  }
}

function Get-Exe([string]$Name) {
  $exe = Join-Path $OutDir $Name
  if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) {
    Stop-Build "the build succeeded but $exe is missing"
  }
  return $exe
}

# WiX Toolset v3: its installer sets WIX to its folder (bin\candle.exe); else PATH.
function Find-WixTool([string]$Name) {
  if ($env:WIX) {
    $tool = Join-Path (Join-Path $env:WIX 'bin') "$Name.exe"
    if (Test-Path -LiteralPath $tool -PathType Leaf) {
      return $tool
    }
  }
  $found = Get-Command "$Name.exe" -ErrorAction SilentlyContinue
  if ($found) {
    return $found.Source
  }
  Stop-Build ("$Name.exe not found: install the WiX Toolset v3 (https://wixtoolset.org/); " +
              "its installer sets the WIX environment variable (open a new console afterwards).")
}

# The product version: PS_VERSION in server/app/version.h, where it is written once.
function Get-ProductVersion {
  $versionH = Join-Path $Root 'server\app\version.h'
  $match = Select-String -LiteralPath $versionH -Pattern '^#define PS_VERSION "([0-9.]+)"' |
    Select-Object -First 1
  if (-not $match) {
    Stop-Build "no '#define PS_VERSION `"X.Y.Z`"' line in $versionH"
  }
  return $match.Matches[0].Groups[1].Value
}

function Invoke-Msi {
  $candle = Find-WixTool 'candle'
  $light = Find-WixTool 'light'
  $exe = Get-Exe 'portserve.exe'
  $version = Get-ProductVersion
  $objDir = Join-Path $OutDir 'obj\installer'
  New-Item -ItemType Directory -Force -Path $objDir | Out-Null
  $wixobj = Join-Path $objDir 'portserve.wixobj'
  $msi = Join-Path $OutDir "portserve-$version.msi"
  Write-Step "candle installer\portserve.wxs (version $version)"
  & $candle -nologo -arch x64 "-dVersion=$version" "-dPortserveExe=$exe" `
    "-dConfigFile=$(Join-Path $Root 'portserve.ini.example')" -out $wixobj (Join-Path $Root 'installer\portserve.wxs')
  if ($LASTEXITCODE -ne 0) {
    Stop-Build "candle failed (exit code $LASTEXITCODE)"
  }
  Write-Step "light -> x64\$Configuration\portserve-$version.msi"
  & $light -nologo -out $msi $wixobj
  if ($LASTEXITCODE -ne 0) {
    Stop-Build "light failed (exit code $LASTEXITCODE)"
  }
  Write-Step "built $msi (install: msiexec /i portserve-$version.msi; remove: msiexec /x)"
}

switch ($Command) {
  'build' {
    Invoke-Build
    Write-Step "built x64\$Configuration\portserve.exe, portload.exe, naive_iocp_echo.exe"
  }
  'test' {
    Invoke-Build -Tests
    # The two test programs of the CMake build: handler tests with a fake session,
    # engine tests with the real one (the same functions, so never one exe).
    foreach ($name in @('common_tests.exe', 'engine_tests.exe')) {
      $tests = Get-Exe $name
      Write-Step "x64\$Configuration\$name $Arguments"
      & $tests @Arguments
      $testExit = $LASTEXITCODE
      if ($testExit -ne 0) {
        Stop-Build "tests failed: $name exited with code $testExit"
      }
    }
    Write-Step 'all tests passed'
  }
  'run' {
    Invoke-Build
    $portserve = Get-Exe 'portserve.exe'
    $runArgs = $Arguments
    if ($runArgs.Count -eq 0) {
      $runArgs = @('run', '--listen', 'echo=127.0.0.1:7007')
    }
    Write-Step "x64\$Configuration\portserve.exe $runArgs   (Ctrl+C stops it)"
    & $portserve @runArgs
    $runExit = $LASTEXITCODE
    if ($runExit -ne 0) {
      Stop-Build "portserve.exe exited with code $runExit"
    }
  }
  'clean' {
    # IntDir is x64\<Config>\obj\<project>, so x64\ holds everything; the per-project
    # x64\ folders are what an older, non-generated project would have left behind.
    foreach ($dir in @('x64', 'common\x64', 'server\x64', 'tests\x64', 'bench\x64')) {
      $path = Join-Path $Root $dir
      if (Test-Path -LiteralPath $path) {
        Write-Step "removing $dir"
        Remove-Item -LiteralPath $path -Recurse -Force
      }
    }
  }
  'msi' {
    Invoke-Build
    Invoke-Msi
  }
  'bench' {
    Write-Host "build.ps1 ${Command}: not available yet"
    exit 1
  }
  'help' {
    Get-Help $PSCommandPath -Detailed
  }
}
exit 0
