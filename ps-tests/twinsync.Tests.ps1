# Pester 5 suite: runs the built twinsync.exe on a real Windows machine,
# where NTFS semantics, sharing-violation locks, attributes, long paths,
# reserved names and the Service Control Manager are real (Wine cannot show
# those).
#
#   cargo make ps-test                  # builds, then runs this suite
#   Invoke-Pester -Path ps-tests -Output Detailed   # against an existing build
#
# Needs Pester 5 (Install-Module Pester -MinimumVersion 5 -Scope CurrentUser).
# Runs under Windows PowerShell 5.1 and PowerShell 7. Set $env:TWINSYNC_EXE
# to test another binary. The service tests need an elevated prompt and are
# skipped otherwise (and when a `twinsync` service is already installed).
# Every test works in its own folder pair under one temp folder per run,
# removed at the end. Watch latencies are printed and appended to
# target\ps-latency.txt.

BeforeDiscovery {
    # -Skip is evaluated during discovery, before any BeforeAll runs: decide
    # here, not in BeforeAll.
    $script:IsAdmin = $false
    try {
        $id = [Security.Principal.WindowsIdentity]::GetCurrent()
        $script:IsAdmin = ([Security.Principal.WindowsPrincipal]$id).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    } catch { $script:IsAdmin = $false }
}

BeforeAll {
    $script:Exe = if ($env:TWINSYNC_EXE) { $env:TWINSYNC_EXE } else { Join-Path $PSScriptRoot '..\target\release\twinsync.exe' }
    if (-not (Test-Path -LiteralPath $script:Exe)) { throw "twinsync.exe not found at $script:Exe; run cargo build --release first" }
    $script:Exe = (Resolve-Path -LiteralPath $script:Exe).ProviderPath
    $script:Utf8 = New-Object System.Text.UTF8Encoding($false)   # no BOM: TOML parsers may reject one
    $script:RunRoot = Join-Path ([IO.Path]::GetTempPath()) ('twinsync-ps-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    [void][IO.Directory]::CreateDirectory($script:RunRoot)
    $script:LatencyLog = Join-Path $PSScriptRoot '..\target\ps-latency.txt'
    $script:Watchers = New-Object System.Collections.ArrayList
    # twinsync prints UTF-8 (arrows in plan tables): decode its output as such.
    try { [Console]::OutputEncoding = $script:Utf8 } catch { Write-Verbose 'no console to set the encoding of' }

    # `\\?\` form of a full path: long paths and reserved names (CON, `bad.`).
    function Get-LongPath([string]$Path) {
        if ($Path.StartsWith('\\?\')) { return $Path }
        if ($Path.StartsWith('\\')) { return '\\?\UNC\' + $Path.Substring(2) }
        return '\\?\' + $Path
    }

    # Writes UTF-8 without a BOM (Set-Content -Encoding utf8 adds one in 5.1).
    function Write-Utf8File([string]$Path, [string]$Text) {
        $long = Get-LongPath $Path
        [void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($long))
        [IO.File]::WriteAllText($long, $Text, $script:Utf8)
    }

    function Read-Text([string]$Path) {
        return [IO.File]::ReadAllText((Get-LongPath $Path), $script:Utf8)
    }

    function Test-File([string]$Path) {
        return [IO.File]::Exists((Get-LongPath $Path))
    }

    # Writes a file and dates it $AgeSeconds in the past (well past
    # min_file_age_seconds, and ordered: a smaller age is newer).
    function Write-Old([string]$Path, [string]$Text, [int]$AgeSeconds = 120) {
        Write-Utf8File $Path $Text
        [IO.File]::SetLastWriteTimeUtc((Get-LongPath $Path), [DateTime]::UtcNow.AddSeconds(-$AgeSeconds))
    }

    # Names (exact case) of the entries of a folder, or of all files below it
    # as relative paths with `\` when -Recurse.
    function Get-Names([string]$Dir, [switch]$Recurse) {
        $long = Get-LongPath $Dir
        if ($Recurse) {
            $names = [string[]]@([IO.Directory]::GetFiles($long, '*', [IO.SearchOption]::AllDirectories) | ForEach-Object { $_.Substring($long.Length + 1) })
        } else {
            $names = [string[]]@([IO.Directory]::GetFileSystemEntries($long) | ForEach-Object { [IO.Path]::GetFileName($_) })
        }
        # Ordinal order: the same on every culture (' ' < '.' < letters).
        [Array]::Sort($names, [StringComparer]::Ordinal)
        return $names
    }

    # A list as one string, to compare lists exactly (order and case).
    function Join-List { return (@($input) -join '|') }

    # The synced files of a side: everything but the trash, the marker and temp files.
    function Get-Synced([string]$Dir) {
        return @(Get-Names $Dir -Recurse | Where-Object { $_ -notlike '.sync_trash\*' -and $_ -ne '.twinsync-root' -and $_ -notlike '*.~twinsync-*' })
    }

    # A case-only rename that works for files and folders on .NET Framework
    # too (Directory.Move refuses names that differ only in case there).
    function Rename-CaseOnly([string]$Path, [string]$NewName) {
        $dir = Split-Path -Parent $Path
        $tmp = Join-Path $dir ('.case-' + [guid]::NewGuid().ToString('N'))
        if (Test-Path -LiteralPath $Path -PathType Container) {
            [IO.Directory]::Move($Path, $tmp); [IO.Directory]::Move($tmp, (Join-Path $dir $NewName))
        } else {
            [IO.File]::Move($Path, $tmp); [IO.File]::Move($tmp, (Join-Path $dir $NewName))
        }
    }

    # A folder pair with its config (written without a BOM) and `init` run.
    # -TopLevel: extra top-level keys; -Sections: extra [tables] after ours.
    function New-Pair([string]$TopLevel = '', [string]$Sections = '') {
        $root = Join-Path $script:RunRoot ([guid]::NewGuid().ToString('N').Substring(0, 8))
        $left = Join-Path $root 'left'; $right = Join-Path $root 'right'
        [void][IO.Directory]::CreateDirectory($left)
        [void][IO.Directory]::CreateDirectory($right)
        $cfg = Join-Path $root 'sync_config.toml'
        $lines = @(
            "left_root = 'left'"
            "right_root = 'right'"
            "state_db = 'twinsync.db'"
            $TopLevel
            ''
            '[transfer]'
            'min_file_age_seconds = 0'
            ''
            '[logging]'
            "log_file_path = 'twinsync.log.jsonl'"
            'log_level = "debug"'
            ''
            $Sections
        )
        [IO.File]::WriteAllText($cfg, ($lines -join "`r`n") + "`r`n", $script:Utf8)
        $p = [pscustomobject]@{ Root = $root; Left = $left; Right = $right; Config = $cfg; Log = (Join-Path $root 'twinsync.log.jsonl') }
        $r = Invoke-Ts $p 'init'
        $r.Code | Should -Be 0 -Because $r.Text
        return $p
    }

    # Runs twinsync with the pair's config. Returns the exit code (read at
    # once, before anything else can reset $LASTEXITCODE), stdout, stderr and
    # both merged. Stderr lines must not become terminating errors under
    # $ErrorActionPreference = 'Stop' (5.1) or
    # $PSNativeCommandUseErrorActionPreference (7.3+).
    function Invoke-Ts($Pair, [string[]]$TsArgs) {
        $eap = $ErrorActionPreference
        $ErrorActionPreference = 'Continue'
        $PSNativeCommandUseErrorActionPreference = $false
        try {
            $all = @(& $script:Exe --config $Pair.Config @TsArgs 2>&1)
            $code = $LASTEXITCODE
        } finally {
            $ErrorActionPreference = $eap
        }
        $stdout = @($all | Where-Object { $_ -isnot [Management.Automation.ErrorRecord] } | ForEach-Object { "$_" })
        $stderr = @($all | Where-Object { $_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { $_.Exception.Message })
        return [pscustomobject]@{
            Code = $code
            Out  = ($stdout -join "`n")
            Err  = ($stderr -join "`n")
            Text = ((@($stdout) + @($stderr)) -join "`n")
        }
    }

    # apply --auto-approve, which must succeed; returns what it printed.
    function Sync($Pair) {
        $r = Invoke-Ts $Pair 'apply', '--auto-approve'
        $r.Code | Should -Be 0 -Because $r.Text
        return $r.Text
    }

    # plan --detailed-exitcode: 0 = in sync, 2 = changes.
    function Get-PlanCode($Pair) {
        $r = Invoke-Ts $Pair 'plan', '--detailed-exitcode'
        return $r.Code
    }

    # status exits with its health verdict: 0 in sync or working, 3 not
    # syncing, 4 blocked, 5 needs you (1 is an error).
    function Get-Status($Pair) {
        $r = Invoke-Ts $Pair 'status', '--json'
        $r.Code | Should -BeIn @(0, 3, 4, 5) -Because $r.Text
        return ($r.Out | ConvertFrom-Json)
    }

    # Polls $Condition every 200 ms until it is true or $TimeoutSeconds pass;
    # returns the seconds it took, or $null on timeout.
    function Wait-Until([scriptblock]$Condition, [double]$TimeoutSeconds = 30) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        while ($true) {
            # A file caught mid-write may throw when read: that is "not yet".
            $ok = try { [bool](& $Condition) } catch { $false }
            if ($ok) { return $sw.Elapsed.TotalSeconds }
            if ($sw.Elapsed.TotalSeconds -ge $TimeoutSeconds) { return $null }
            Start-Sleep -Milliseconds 200
        }
    }

    # `twinsync watch` as a background process (output to files beside the config).
    function Start-Watch($Pair, [string[]]$Extra = @()) {
        $n = [guid]::NewGuid().ToString('N').Substring(0, 6)
        # Start-Process joins arguments with spaces without quoting them: quote the path.
        $argLine = (@('--config', ('"' + $Pair.Config + '"'), 'watch') + $Extra) -join ' '
        $proc = Start-Process -FilePath $script:Exe -ArgumentList $argLine -WorkingDirectory $Pair.Root -PassThru -NoNewWindow `
            -RedirectStandardOutput (Join-Path $Pair.Root "watch-$n.out") -RedirectStandardError (Join-Path $Pair.Root "watch-$n.err")
        [void]$script:Watchers.Add($proc)
        return $proc
    }

    # Ends a watch process the hard way (TerminateProcess: a crash or a
    # killed service, the worst case for a restart) and waits until it is gone.
    function Stop-Watch($Proc) {
        if (-not $Proc.HasExited) {
            Stop-Process -Id $Proc.Id -Force -ErrorAction SilentlyContinue
            [void]$Proc.WaitForExit(15000)
        }
        $Proc.HasExited | Should -BeTrue
    }

    function Write-Latency([string]$What, [double]$Seconds) {
        $line = '{0:yyyy-MM-dd HH:mm:ss} {1}: {2:N2} s' -f (Get-Date), $What, $Seconds
        Write-Host ("    latency {0}: {1:N2} s" -f $What, $Seconds)
        try { Add-Content -LiteralPath $script:LatencyLog -Value $line -Encoding Ascii } catch { Write-Verbose "cannot record the latency: $_" }
    }

    # The log as objects, one per JSON line.
    function Get-LogEvents($Pair) {
        if (-not (Test-Path -LiteralPath $Pair.Log)) { return @() }
        return @(Get-Content -LiteralPath $Pair.Log -Encoding UTF8 | Where-Object { $_.Trim() } | ForEach-Object { $_ | ConvertFrom-Json })
    }

    # A tiny SMTP server on 127.0.0.1 (no TLS, no AUTH) in a runspace of this
    # process: every message is kept, envelope and DATA, in $sink.Messages.
    function Start-SmtpSink {
        $listener = New-Object System.Net.Sockets.TcpListener([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        $port = ([Net.IPEndPoint]$listener.LocalEndpoint).Port
        $messages = [Collections.ArrayList]::Synchronized((New-Object Collections.ArrayList))
        $serve = {
            param($Listener, $Messages)
            $latin1 = [Text.Encoding]::GetEncoding(28591)   # bytes as they come: never fails to decode
            while ($true) {
                try { $client = $Listener.AcceptTcpClient() } catch { break }   # Stop() ends the loop
                try {
                    $client.ReceiveTimeout = 15000
                    $stream = $client.GetStream()
                    $reader = New-Object IO.StreamReader($stream, $latin1)
                    $writer = New-Object IO.StreamWriter($stream, $latin1)
                    $writer.NewLine = "`r`n"
                    $writer.AutoFlush = $true
                    $writer.WriteLine('220 twinsync-sink ESMTP')
                    $inData = $false
                    $envelope = New-Object Text.StringBuilder
                    $data = New-Object Text.StringBuilder
                    $done = $false
                    while (-not $done) {
                        $line = $reader.ReadLine()
                        if ($null -eq $line) { break }
                        if ($inData) {
                            if ($line -eq '.') {
                                [void]$Messages.Add([pscustomobject]@{ Envelope = $envelope.ToString(); Data = $data.ToString() })
                                $inData = $false
                                [void]$envelope.Clear()
                                $writer.WriteLine('250 2.0.0 queued')
                            } else {
                                if ($line.StartsWith('..')) { $line = $line.Substring(1) }   # dot-stuffing
                                [void]$data.Append($line).Append("`r`n")
                            }
                            continue
                        }
                        $verb = ($line -split ' ', 2)[0].ToUpperInvariant()
                        # if/elseif, not switch: `break` in a switch would only leave the switch.
                        if ($verb -eq 'EHLO') {
                            $writer.WriteLine('250-twinsync-sink')
                            $writer.WriteLine('250 8BITMIME')
                        } elseif ($verb -eq 'HELO') {
                            $writer.WriteLine('250 twinsync-sink')
                        } elseif ($verb -eq 'MAIL' -or $verb -eq 'RCPT') {
                            [void]$envelope.Append($line).Append("`r`n")
                            $writer.WriteLine('250 2.1.0 ok')
                        } elseif ($verb -eq 'DATA') {
                            $inData = $true
                            [void]$data.Clear()
                            $writer.WriteLine('354 end data with <CR><LF>.<CR><LF>')
                        } elseif ($verb -eq 'QUIT') {
                            $writer.WriteLine('221 2.0.0 bye')
                            $done = $true
                        } else {
                            $writer.WriteLine('250 ok')   # RSET, NOOP, ...
                        }
                    }
                } catch {
                    Write-Verbose "smtp session ended: $_"
                } finally {
                    $client.Close()
                }
            }
        }
        $ps = [PowerShell]::Create()
        [void]$ps.AddScript($serve.ToString()).AddArgument($listener).AddArgument($messages)
        $handle = $ps.BeginInvoke()
        return [pscustomobject]@{ Port = $port; Messages = $messages; Listener = $listener; PowerShell = $ps; Handle = $handle }
    }

    function Stop-SmtpSink($Sink) {
        if ($null -eq $Sink) { return }
        $Sink.Listener.Stop()
        try { [void]$Sink.PowerShell.EndInvoke($Sink.Handle) } catch { Write-Verbose "sink: $_" }
        $Sink.PowerShell.Dispose()
    }

    # The readable text of a received message: headers, and the body decoded
    # from quoted-printable or base64 when the mail says it is encoded so.
    function Get-MailText($Message) {
        $raw = $Message.Data
        $split = $raw.IndexOf("`r`n`r`n")
        if ($split -lt 0) { return $raw }
        $head = $raw.Substring(0, $split)
        $body = $raw.Substring($split + 4)
        if ($head -match '(?im)^Content-Transfer-Encoding:\s*base64') {
            $bytes = [Convert]::FromBase64String(($body -replace '\s', ''))
            $body = [Text.Encoding]::UTF8.GetString($bytes)
        } elseif ($head -match '(?im)^Content-Transfer-Encoding:\s*quoted-printable') {
            $body = $body -replace "=`r`n", ''
            $ms = New-Object IO.MemoryStream
            $i = 0
            while ($i -lt $body.Length) {
                $c = $body[$i]
                if ($c -eq '=' -and $i + 2 -lt $body.Length -and $body.Substring($i + 1, 2) -match '^[0-9A-Fa-f]{2}$') {
                    $ms.WriteByte([Convert]::ToByte($body.Substring($i + 1, 2), 16)); $i += 3
                } else {
                    $ms.WriteByte([byte][char]$c); $i += 1
                }
            }
            $body = [Text.Encoding]::UTF8.GetString($ms.ToArray())
        }
        return $head + "`r`n`r`n" + $body
    }

    # Removes a folder tree even with long paths, reserved names, hidden and
    # read-only files (Remove-Item alone fails on some of these in 5.1).
    function Remove-Tree([string]$Path) {
        if (-not $Path) { return }
        $long = Get-LongPath $Path
        if (-not [IO.Directory]::Exists($long)) { return }
        try {
            foreach ($e in [IO.Directory]::GetFileSystemEntries($long, '*', [IO.SearchOption]::AllDirectories)) {
                try { [IO.File]::SetAttributes($e, [IO.FileAttributes]::Normal) } catch { Write-Verbose "$_" }
            }
            [IO.Directory]::Delete($long, $true)
        } catch {
            Write-Warning "could not remove $Path (remove it by hand): $_"
        }
    }
}

AfterAll {
    foreach ($w in $script:Watchers) {
        if (-not $w.HasExited) { Stop-Process -Id $w.Id -Force -ErrorAction SilentlyContinue; [void]$w.WaitForExit(10000) }
    }
    Remove-Tree $script:RunRoot
}

Describe 'two-way sync on NTFS' {
    It 'copies new files left to right and right to left, keeping mtimes' {
        $p = New-Pair
        Write-Old "$($p.Left)\docs\a.docx" 'from left'
        Write-Old "$($p.Right)\media\b.txt" 'from right'
        Get-PlanCode $p | Should -Be 2
        Sync $p | Should -Match 'Apply complete: 2 copied'
        Read-Text "$($p.Right)\docs\a.docx" | Should -BeExactly 'from left'
        Read-Text "$($p.Left)\media\b.txt" | Should -BeExactly 'from right'
        (Get-Item -LiteralPath "$($p.Right)\docs\a.docx").LastWriteTimeUtc | Should -Be (Get-Item -LiteralPath "$($p.Left)\docs\a.docx").LastWriteTimeUtc
        (Get-Item -LiteralPath "$($p.Left)\media\b.txt").LastWriteTimeUtc | Should -Be (Get-Item -LiteralPath "$($p.Right)\media\b.txt").LastWriteTimeUtc
        Get-PlanCode $p | Should -Be 0
    }

    It 'propagates edits in both directions, the replaced version going to trash' {
        $p = New-Pair
        Write-Old "$($p.Left)\sub\a.txt" 'v1' 600
        Sync $p | Out-Null
        Write-Old "$($p.Left)\sub\a.txt" 'v2 from left' 300
        Sync $p | Should -Match '1 copied'
        Read-Text "$($p.Right)\sub\a.txt" | Should -BeExactly 'v2 from left'
        Read-Text "$($p.Right)\.sync_trash\sub\a.txt" | Should -BeExactly 'v1'
        Write-Old "$($p.Right)\sub\a.txt" 'v3 from right' 100
        Sync $p | Should -Match '1 copied'
        Read-Text "$($p.Left)\sub\a.txt" | Should -BeExactly 'v3 from right'
        Read-Text "$($p.Left)\.sync_trash\sub\a.txt" | Should -BeExactly 'v2 from left'
        Get-PlanCode $p | Should -Be 0
    }

    It 'creates empty folders on the other side and never syncs the trash or the marker' {
        $p = New-Pair
        [void][IO.Directory]::CreateDirectory("$($p.Left)\empty\inner")
        Write-Old "$($p.Left)\.sync_trash\old.txt" 'trash is never synced'
        Sync $p | Out-Null
        [IO.Directory]::Exists("$($p.Right)\empty\inner") | Should -BeTrue
        Test-File "$($p.Right)\.sync_trash\old.txt" | Should -BeFalse
        Read-Text "$($p.Right)\.twinsync-root" | Should -Not -Be (Read-Text "$($p.Left)\.twinsync-root")
    }
}

Describe 'conflicts: clash copies and an email to a local SMTP sink' {
    BeforeAll {
        $script:Sink = Start-SmtpSink
        $email = @(
            '[email]'
            'enabled = true'
            'smtp_host = "127.0.0.1"'
            "smtp_port = $($script:Sink.Port)"
            'security = "none"'
            'auth = "none"'
            'from_address = "sync@example.com"'
            'to_addresses = ["admin@example.com"]'
        ) -join "`r`n"
        # Not a closure (GetNewClosure would hide the BeforeAll functions): a plain value.
        $script:EmailSection = $email
    }
    AfterAll {
        Stop-SmtpSink $script:Sink
    }

    It 'sends a test email (alert test)' {
        $p = New-Pair -Sections $script:EmailSection
        $before = $script:Sink.Messages.Count
        $r = Invoke-Ts $p 'alert', 'test'
        $r.Code | Should -Be 0 -Because $r.Text
        Wait-Until { $script:Sink.Messages.Count -gt $before } 15 | Should -Not -BeNullOrEmpty
        $m = $script:Sink.Messages[$before]
        $m.Envelope | Should -Match 'RCPT TO:\s*<admin@example\.com>'
        $m.Envelope | Should -Match 'MAIL FROM:\s*<sync@example\.com>'
        Get-MailText $m | Should -Match 'test email'
    }

    It 'keeps both versions of a file changed on both sides (6.2.1) and emails the admin' {
        $p = New-Pair -Sections $script:EmailSection
        $before = $script:Sink.Messages.Count
        Write-Old "$($p.Left)\team\r.docx" 'base' 800
        Sync $p | Out-Null
        Write-Old "$($p.Left)\team\r.docx" 'left edit' 300
        Write-Old "$($p.Right)\team\r.docx" 'right edit, newer' 100
        Get-PlanCode $p | Should -Be 2
        Sync $p | Should -Match '1 conflict'
        foreach ($side in $p.Left, $p.Right) {
            Get-Names "$side\team" | Join-List | Should -BeExactly 'r - clash.docx|r.docx'
            Read-Text "$side\team\r.docx" | Should -BeExactly 'right edit, newer'
            Read-Text "$side\team\r - clash.docx" | Should -BeExactly 'left edit'
        }
        # apply delivers what it queued before it finishes; allow the sink a moment.
        Wait-Until { $script:Sink.Messages.Count -gt $before } 15 | Should -Not -BeNullOrEmpty
        $mail = @($script:Sink.Messages)[$before]
        $mail.Envelope | Should -Match 'RCPT TO:\s*<admin@example\.com>'
        $text = Get-MailText $mail
        $text | Should -Match '(?m)^Subject:.*conflict'
        foreach ($needle in 'team/r.docx', 'team/r - clash.docx', '6.2.1', 'Newer side: right', 'Left:', 'Right:') {
            $text | Should -Match ([regex]::Escape($needle))
        }
        Get-PlanCode $p | Should -Be 0
        $after = $script:Sink.Messages.Count
        Sync $p | Out-Null
        Start-Sleep -Seconds 1
        $script:Sink.Messages.Count | Should -Be $after -Because 'a handled conflict is alerted once'
    }

    It 'numbers clash copies when the name is taken and handles names without extension' {
        $p = New-Pair -Sections $script:EmailSection
        Write-Old "$($p.Left)\report.docx" 'base' 900
        Write-Old "$($p.Left)\notes" 'base' 900
        Sync $p | Out-Null
        foreach ($round in 1, 2) {
            Write-Old "$($p.Left)\report.docx" "left $round" (700 - 200 * $round)
            Write-Old "$($p.Right)\report.docx" "right $round, newer" (650 - 200 * $round)
            if ($round -eq 1) {
                Write-Old "$($p.Left)\notes" 'left newer' 100
                Write-Old "$($p.Right)\notes" 'right older' 400
            }
            Sync $p | Out-Null
        }
        foreach ($side in $p.Left, $p.Right) {
            Get-Names $side | Where-Object { $_ -like 'report*' } | Join-List | Should -BeExactly 'report - clash 2.docx|report - clash.docx|report.docx'
            Read-Text "$side\report.docx" | Should -BeExactly 'right 2, newer'
            Read-Text "$side\report - clash.docx" | Should -BeExactly 'left 1'
            Read-Text "$side\report - clash 2.docx" | Should -BeExactly 'left 2'
            Read-Text "$side\notes" | Should -BeExactly 'left newer'
            Read-Text "$side\notes - clash" | Should -BeExactly 'right older'
        }
        Get-PlanCode $p | Should -Be 0
    }

    It 'makes clash copies for a file new on both sides with different content (6.2.2), left winning a tie' {
        $p = New-Pair -Sections $script:EmailSection
        Write-Old "$($p.Left)\seed.txt" 'first sync done'
        Sync $p | Out-Null
        $t = [DateTime]::UtcNow.AddMinutes(-3)
        Write-Utf8File "$($p.Left)\both.txt" 'left version'
        Write-Utf8File "$($p.Right)\both.txt" 'right version'
        [IO.File]::SetLastWriteTimeUtc("$($p.Left)\both.txt", $t)
        [IO.File]::SetLastWriteTimeUtc("$($p.Right)\both.txt", $t)
        Sync $p | Should -Match '1 conflict'
        foreach ($side in $p.Left, $p.Right) {
            Read-Text "$side\both.txt" | Should -BeExactly 'left version'
            Read-Text "$side\both - clash.txt" | Should -BeExactly 'right version'
        }
    }
}

Describe 'soft and hard delete' {
    It 'moves small deleted files to .sync_trash at their path, deletes large ones for good' {
        $p = New-Pair -Sections "[soft_delete]`r`nmax_size_bytes = 1024"
        Write-Old "$($p.Left)\sub\small.txt" 'small file'
        Write-Old "$($p.Left)\sub\big.bin" ('x' * 4096)
        Write-Old "$($p.Left)\keep.txt" 'stays'
        Sync $p | Out-Null
        Remove-Item -LiteralPath "$($p.Left)\sub\small.txt", "$($p.Left)\sub\big.bin"
        $o = Sync $p
        $o | Should -Match '1 to trash'
        $o | Should -Match '1 deleted for good'
        Test-File "$($p.Right)\sub\small.txt" | Should -BeFalse
        Test-File "$($p.Right)\sub\big.bin" | Should -BeFalse
        Read-Text "$($p.Right)\.sync_trash\sub\small.txt" | Should -BeExactly 'small file'
        Test-File "$($p.Right)\.sync_trash\sub\big.bin" | Should -BeFalse
        # The hard delete is logged with path, size, side and rule.
        $hard = @(Get-LogEvents $p | Where-Object { $_.event -eq 'delete' -and $_.path -eq 'sub/big.bin' })
        $hard.Count | Should -BeGreaterThan 0
        $hard[-1].side | Should -Be 'right'
        $hard[-1].rule | Should -Be '6.2.7'
        $hard[-1].bytes | Should -Be 4096
        # trash list names the soft-deleted file.
        (Invoke-Ts $p 'trash', 'list').Text | Should -Match 'small\.txt'
        (Get-Status $p).trash.right.files | Should -Be 1
    }

    It 'tags a second deleted version with the deletion time when the trash name is taken' {
        $p = New-Pair
        Write-Old "$($p.Right)\a\report.docx" 'first'
        Sync $p | Out-Null
        Remove-Item -LiteralPath "$($p.Right)\a\report.docx"
        Sync $p | Out-Null
        Write-Old "$($p.Right)\a\report.docx" 'second'
        Sync $p | Out-Null
        Remove-Item -LiteralPath "$($p.Right)\a\report.docx"
        Sync $p | Out-Null
        $names = Get-Names "$($p.Left)\.sync_trash\a"
        $names | Should -Contain 'report.docx'
        $tagged = @($names | Where-Object { $_ -cmatch '^report \(deleted \d{4}-\d{2}-\d{2} \d{6}( \d+)?\)\.docx$' })
        $tagged.Count | Should -Be 1
        Read-Text "$($p.Left)\.sync_trash\a\report.docx" | Should -BeExactly 'first'
        Read-Text "$($p.Left)\.sync_trash\a\$($tagged[0])" | Should -BeExactly 'second'
    }

    It 'hard-deletes everything when soft_delete.enabled = false' {
        $p = New-Pair -Sections "[soft_delete]`r`nenabled = false"
        Write-Old "$($p.Left)\gone.txt" 'bye'
        Sync $p | Out-Null
        Remove-Item -LiteralPath "$($p.Left)\gone.txt"
        Sync $p | Should -Match '1 deleted for good'
        Test-File "$($p.Right)\gone.txt" | Should -BeFalse
        Test-File "$($p.Right)\.sync_trash\gone.txt" | Should -BeFalse
    }
}

Describe 'watch' {
    It 'brings a change across within about 10 seconds, both ways' {
        $p = New-Pair
        Write-Old "$($p.Left)\seed.txt" 'seed'
        $w = Start-Watch $p
        try {
            Wait-Until { Test-File "$($p.Right)\seed.txt" } 30 | Should -Not -BeNullOrEmpty -Because 'the first cycle syncs the seed'
            Start-Sleep -Seconds 1
            $worst = 0
            foreach ($dir in @(@($p.Left, $p.Right, 'left to right'), @($p.Right, $p.Left, 'right to left'))) {
                $name = 'latency-' + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.txt'
                Write-Utf8File "$($dir[0])\$name" "written $(Get-Date -Format o)"
                $t = Wait-Until { (Test-File "$($dir[1])\$name") -and (Read-Text "$($dir[1])\$name") -like 'written*' } 30
                $t | Should -Not -BeNullOrEmpty -Because "a change $($dir[2]) must arrive within 30 s"
                Write-Latency $dir[2] $t
                if ($t -gt $worst) { $worst = $t }
            }
            $worst | Should -BeLessThan 12 -Because 'SPEC section 9: within 10 s under normal load (plus the 0.2 s poll of this test)'
            $w.HasExited | Should -BeFalse
        } finally {
            Stop-Watch $w
        }
    }

    It 'stops and restarts without duplicate operations, clash copies or lost changes' {
        $p = New-Pair
        1..20 | ForEach-Object { Write-Old "$($p.Left)\batch\l$_.txt" "left $_" }
        1..20 | ForEach-Object { Write-Old "$($p.Right)\batch\r$_.txt" "right $_" }
        $w = Start-Watch $p
        try {
            Wait-Until { (Get-Synced $p.Left).Count -eq 40 -and (Get-Synced $p.Right).Count -eq 40 } 60 | Should -Not -BeNullOrEmpty
            # Changes made just before the stop, and while stopped.
            Write-Utf8File "$($p.Left)\batch\l1.txt" 'left 1, edited before the stop'
            Write-Utf8File "$($p.Right)\late-right.txt" 'made before the stop'
        } finally {
            Stop-Watch $w
        }
        Write-Old "$($p.Left)\while-stopped.txt" 'made while stopped' 30
        Remove-Item -LiteralPath "$($p.Right)\batch\r20.txt"
        $w2 = Start-Watch $p
        try {
            $ok = Wait-Until {
                (Test-File "$($p.Right)\while-stopped.txt") -and (Test-File "$($p.Left)\late-right.txt") -and
                -not (Test-File "$($p.Left)\batch\r20.txt") -and
                (Read-Text "$($p.Right)\batch\l1.txt") -eq 'left 1, edited before the stop'
            } 60
            $ok | Should -Not -BeNullOrEmpty -Because 'the restarted watch picks up every change'
            Start-Sleep -Seconds 12   # at least one more full cycle: nothing may be redone
        } finally {
            Stop-Watch $w2
        }
        # A clean stop too: --cycles ends by itself with exit 0.
        $r = Invoke-Ts $p 'watch', '--cycles', '2'
        $r.Code | Should -Be 0 -Because $r.Text
        $left = Get-Synced $p.Left
        $right = Get-Synced $p.Right
        ($left | Join-List) | Should -BeExactly ($right | Join-List)
        $left.Count | Should -Be 41   # 40 - r20 + while-stopped + late-right
        @($left | Where-Object { $_ -match ' - clash' }).Count | Should -Be 0
        @(Get-Names $p.Right -Recurse | Where-Object { $_ -like '*.~twinsync-*' }).Count | Should -Be 0
        @(Get-LogEvents $p | Where-Object { $_.event -eq 'conflict' }).Count | Should -Be 0
        # Every file was copied exactly once (no operation done twice after the restart).
        # (A step found done on disk after the kill is logged as recovered, not copied again.)
        $twice = @(Get-LogEvents $p |
            Where-Object { $_.event -eq 'copy' -and $_.result -eq 'ok' -and "$($_.note)" -notmatch 'recovered' -and $_.path -ne 'batch/l1.txt' } |
            Group-Object path | Where-Object { $_.Count -gt 1 } | ForEach-Object { $_.Name })
        $twice | Join-List | Should -BeExactly '' -Because 'only batch/l1.txt was edited after its first copy'
        (Get-Status $p).plans_in_flight.Count | Should -Be 0
        Get-PlanCode $p | Should -Be 0
    }
}

Describe 'Windows file system semantics' {
    It 'skips a file held open with no sharing, then syncs it after close' {
        $p = New-Pair
        Write-Old "$($p.Left)\book.xlsx" 'v1'
        Sync $p | Out-Null
        # Destination locked: the copy cannot replace it; the step fails, the others go on.
        Write-Old "$($p.Left)\book.xlsx" 'v2 longer' 30
        Write-Old "$($p.Left)\other.txt" 'not held up'
        $lock = [IO.File]::Open("$($p.Right)\book.xlsx", [IO.FileMode]::Open, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None)
        try {
            $r = Invoke-Ts $p 'apply', '--auto-approve'
            $r.Code | Should -Be 1 -Because "a step failed: $($r.Text)"
            Read-Text "$($p.Right)\other.txt" | Should -BeExactly 'not held up'
            (Get-Status $p).failing_paths.Count | Should -BeGreaterThan 0
        } finally {
            $lock.Close()
        }
        Read-Text "$($p.Right)\book.xlsx" | Should -BeExactly 'v1'
        Sync $p | Out-Null
        Read-Text "$($p.Right)\book.xlsx" | Should -BeExactly 'v2 longer'
        # Source locked: nothing half-written appears on the other side.
        Write-Old "$($p.Right)\new.docx" 'locked at the source'
        $lock = [IO.File]::Open("$($p.Right)\new.docx", [IO.FileMode]::Open, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None)
        try {
            $r = Invoke-Ts $p 'apply', '--auto-approve'
            $r.Code | Should -BeIn @(0, 1) -Because $r.Text
            Test-File "$($p.Left)\new.docx" | Should -BeFalse
        } finally {
            $lock.Close()
        }
        Sync $p | Out-Null
        Read-Text "$($p.Left)\new.docx" | Should -BeExactly 'locked at the source'
        @(Get-Names $p.Left -Recurse | Where-Object { $_ -like '*.~twinsync-*' }).Count | Should -Be 0
        @(Get-Names $p.Right -Recurse | Where-Object { $_ -like '*.~twinsync-*' }).Count | Should -Be 0
        Get-PlanCode $p | Should -Be 0
    }

    It 'syncs paths longer than 260 characters both ways' {
        $p = New-Pair
        $deep = ('very-long-folder-name-' * 4).TrimEnd('-')
        $rel = "$deep\$deep\$deep\file.txt"
        "$($p.Left)\$rel".Length | Should -BeGreaterThan 260
        Write-Old "$($p.Left)\$rel" 'deep left'
        Write-Old "$($p.Right)\$deep\$deep\$deep\other.txt" 'deep right'
        Sync $p | Should -Match '2 copied'
        Read-Text "$($p.Right)\$rel" | Should -BeExactly 'deep left'
        Read-Text "$($p.Left)\$deep\$deep\$deep\other.txt" | Should -BeExactly 'deep right'
        [IO.File]::Delete((Get-LongPath "$($p.Left)\$rel"))
        Sync $p | Out-Null
        Test-File "$($p.Right)\$rel" | Should -BeFalse
        Read-Text "$($p.Right)\.sync_trash\$rel" | Should -BeExactly 'deep left'
        Get-PlanCode $p | Should -Be 0
    }

    It 'syncs a case-only rename of a file without copying it' {
        $p = New-Pair
        Write-Old "$($p.Left)\report.docx" 'v1'
        Sync $p | Out-Null
        Rename-CaseOnly "$($p.Left)\report.docx" 'Report.docx'
        $o = Sync $p
        $o | Should -Match 'Apply complete: 0 copied'
        $o | Should -Match '1 renamed'
        Get-Names $p.Right | Where-Object { $_ -like 'report*' } | Join-List | Should -BeExactly 'Report.docx'
        Read-Text "$($p.Right)\Report.docx" | Should -BeExactly 'v1'
        @(Get-Names $p.Right -Recurse | Where-Object { $_ -match ' - clash' }).Count | Should -Be 0
        Get-PlanCode $p | Should -Be 0
    }

    It 'syncs a case-only rename of a folder, its contents kept and not copied' {
        $p = New-Pair
        Write-Old "$($p.Right)\Proj\a.txt" 'a'
        Write-Old "$($p.Right)\Proj\sub\b.txt" 'b'
        Sync $p | Out-Null
        Rename-CaseOnly "$($p.Right)\Proj" 'PROJ'
        Sync $p | Should -Match 'Apply complete: 0 copied'
        Get-Names $p.Left | Where-Object { $_ -like 'proj' } | Join-List | Should -BeExactly 'PROJ'
        Get-Synced $p.Left | Join-List | Should -BeExactly 'PROJ\a.txt|PROJ\sub\b.txt'
        Read-Text "$($p.Left)\PROJ\sub\b.txt" | Should -BeExactly 'b'
        Get-PlanCode $p | Should -Be 0
    }

    It 'carries hidden and read-only attributes without copying content, both ways' {
        $p = New-Pair
        Write-Old "$($p.Left)\h.txt" 'attr'
        Sync $p | Out-Null
        [IO.File]::SetAttributes("$($p.Left)\h.txt", [IO.FileAttributes]'Hidden, ReadOnly')
        Sync $p | Should -Match 'Apply complete: 0 copied'
        $a = [IO.File]::GetAttributes("$($p.Right)\h.txt")
        ($a -band [IO.FileAttributes]::Hidden) | Should -Be ([IO.FileAttributes]::Hidden)
        ($a -band [IO.FileAttributes]::ReadOnly) | Should -Be ([IO.FileAttributes]::ReadOnly)
        # Cleared on the right: cleared on the left.
        [IO.File]::SetAttributes("$($p.Right)\h.txt", [IO.FileAttributes]::Hidden)
        Sync $p | Should -Match 'Apply complete: 0 copied'
        ([IO.File]::GetAttributes("$($p.Left)\h.txt") -band [IO.FileAttributes]::ReadOnly) | Should -Be 0
        # New content reaches a read-only destination, which stays read-only.
        [IO.File]::SetAttributes("$($p.Left)\h.txt", [IO.FileAttributes]'Hidden, ReadOnly')
        Sync $p | Out-Null
        [IO.File]::SetAttributes("$($p.Left)\h.txt", [IO.FileAttributes]::Normal)
        Write-Old "$($p.Left)\h.txt" 'new content' 10
        [IO.File]::SetAttributes("$($p.Left)\h.txt", [IO.FileAttributes]'Hidden, ReadOnly')
        Sync $p | Should -Match '1 copied'
        Read-Text "$($p.Right)\h.txt" | Should -BeExactly 'new content'
        ([IO.File]::GetAttributes("$($p.Right)\h.txt") -band [IO.FileAttributes]::ReadOnly) | Should -Be ([IO.FileAttributes]::ReadOnly)
        Get-PlanCode $p | Should -Be 0
    }

    It 'reports and skips reserved and invalid names, without looping on them' {
        $p = New-Pair
        Write-Old "$($p.Left)\fine.txt" 'ok'
        # These can only be made through the \\?\ prefix.
        $bad = 'CON', 'aux.txt', 'bad.', 'trailing ', 'COM1.log'
        foreach ($n in $bad) { Write-Old "$($p.Left)\$n" 'x' }
        Write-Old "$($p.Left)\LPT1\inside.txt" 'x'
        $r = Invoke-Ts $p 'plan'
        $r.Code | Should -Be 0 -Because $r.Text
        foreach ($n in 'CON', 'aux.txt', 'bad.', 'COM1.log', 'LPT1') {
            $r.Text | Should -Match ('skipped `' + [regex]::Escape($n))
        }
        Sync $p | Should -Match '1 copied'
        Read-Text "$($p.Right)\fine.txt" | Should -BeExactly 'ok'
        foreach ($n in $bad) { Test-File "$($p.Right)\$n" | Should -BeFalse }
        [IO.Directory]::Exists((Get-LongPath "$($p.Right)\LPT1")) | Should -BeFalse
        Sync $p | Should -Match 'Apply complete: 0 copied'
        Get-PlanCode $p | Should -Be 0 -Because 'skipped names are not a change to retry'
        foreach ($n in $bad) { Test-File "$($p.Left)\$n" | Should -BeTrue }
    }
}

Describe 'getting started without the repository' {
    It 'turns init --example, saved with Set-Content -Encoding UTF8, into a working config' {
        $p = New-Pair
        $example = @(& $script:Exe init --example)
        $LASTEXITCODE | Should -Be 0
        $lines = $example | ForEach-Object {
            if ($_ -like 'left_root*') { "left_root = '$($p.Left)'" }
            elseif ($_ -like 'right_root*') { "right_root = '$($p.Right)'" }
            else { $_ }
        }
        # Windows PowerShell 5 writes UTF-8 with a byte-order mark here: read fine.
        $lines | Set-Content -Encoding UTF8 $p.Config
        $r = Invoke-Ts $p 'plan'
        $r.Code | Should -Be 0 -Because $r.Text
    }

    It 'says "save the file as UTF-8" for a UTF-16 config (Out-File) and "single quotes" for a double-quoted path' {
        $p = New-Pair
        $text = [IO.File]::ReadAllText($p.Config)
        # What Windows PowerShell 5's Out-File and > write.
        [IO.File]::WriteAllText($p.Config, $text, [Text.Encoding]::Unicode)
        $r = Invoke-Ts $p 'plan'
        $r.Code | Should -Be 1
        $r.Err | Should -Match 'save the file as UTF-8'
        [IO.File]::WriteAllText($p.Config, $text.Replace("left_root = 'left'", "left_root = `"$($p.Left)`""), $script:Utf8)
        $r = Invoke-Ts $p 'plan'
        $r.Code | Should -Be 1
        $r.Err | Should -Match 'use single quotes for Windows paths'
    }
}

Describe 'safety' {
    It 'exits 3 and plans nothing when the right root is gone' {
        $p = New-Pair
        Write-Old "$($p.Left)\a.txt" 'x'
        Sync $p | Out-Null
        Rename-Item -LiteralPath $p.Right -NewName 'right-away'
        try {
            (Invoke-Ts $p 'plan').Code | Should -Be 3
            (Invoke-Ts $p 'apply', '--auto-approve').Code | Should -Be 3
            Test-File "$($p.Left)\a.txt" | Should -BeTrue
        } finally {
            Rename-Item -LiteralPath (Join-Path $p.Root 'right-away') -NewName 'right'
        }
        Get-PlanCode $p | Should -Be 0
    }

    It 'refuses mass deletes with exit 4 unless --force' {
        $p = New-Pair
        1..30 | ForEach-Object { Write-Old "$($p.Left)\f$_.txt" "$_" }
        Sync $p | Out-Null
        Get-ChildItem -LiteralPath $p.Left -Filter 'f*.txt' | Remove-Item
        (Invoke-Ts $p 'plan').Code | Should -Be 4
        (Invoke-Ts $p 'apply', '--auto-approve').Code | Should -Be 4
        @(Get-Synced $p.Right).Count | Should -Be 30
        $r = Invoke-Ts $p 'apply', '--auto-approve', '--force'
        $r.Code | Should -Be 0 -Because $r.Text
        @(Get-Synced $p.Right).Count | Should -Be 0
    }
}

Describe 'Windows service' -Tag 'Admin' {
    It 'prints service help' {
        $o = & $script:Exe service --help
        $LASTEXITCODE | Should -Be 0
        ($o -join "`n") | Should -Match 'install'
    }

    It 'installs, starts, syncs, stops cleanly and uninstalls (sc.exe)' -Skip:(-not $IsAdmin) {
        if (Get-Service -Name twinsync -ErrorAction SilentlyContinue) {
            Set-ItResult -Skipped -Because 'a twinsync service is already installed on this machine; not touching it'
            return
        }
        $p = New-Pair 'sync_interval_seconds = 2'
        Write-Old "$($p.Left)\svc.txt" 'via service'
        # `sc` is Set-Content in PowerShell: always sc.exe.
        $installed = $false
        $t0 = Get-Date
        try {
            $o = & $script:Exe --config $p.Config service install 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($o -join "`n")
            $installed = $true
            (sc.exe qc twinsync) -join "`n" | Should -Match 'START_TYPE\s+:\s+2\s+AUTO_START'
            (sc.exe qfailure twinsync) -join "`n" | Should -Match 'RESTART'
            $o = sc.exe start twinsync
            $LASTEXITCODE | Should -Be 0 -Because ($o -join "`n")
            Wait-Until { (sc.exe query twinsync) -match 'STATE\s+:\s+4\s+RUNNING' } 30 | Should -Not -BeNullOrEmpty
            Wait-Until { Test-File "$($p.Right)\svc.txt" } 30 | Should -Not -BeNullOrEmpty
            Read-Text "$($p.Right)\svc.txt" | Should -BeExactly 'via service'
            Write-Old "$($p.Right)\back.txt" 'from right, via service' 5
            Wait-Until { Test-File "$($p.Left)\back.txt" } 30 | Should -Not -BeNullOrEmpty
            $o = sc.exe stop twinsync
            $LASTEXITCODE | Should -Be 0 -Because ($o -join "`n")
            Wait-Until { (sc.exe query twinsync) -match 'STATE\s+:\s+1\s+STOPPED' } 30 | Should -Not -BeNullOrEmpty
            (sc.exe query twinsync) -join "`n" | Should -Match 'WIN32_EXIT_CODE\s+:\s+0\s'
            (Get-Service twinsync).StartType | Should -Be 'Automatic'
            # A restart resumes from the state DB: nothing is done twice.
            $o = sc.exe start twinsync
            $LASTEXITCODE | Should -Be 0 -Because ($o -join "`n")
            Wait-Until { (sc.exe query twinsync) -match 'STATE\s+:\s+4\s+RUNNING' } 30 | Should -Not -BeNullOrEmpty
            Start-Sleep -Seconds 5
            [void](sc.exe stop twinsync)
            Wait-Until { (sc.exe query twinsync) -match 'STATE\s+:\s+1\s+STOPPED' } 30 | Should -Not -BeNullOrEmpty
            Get-Synced $p.Left | Join-List | Should -BeExactly 'back.txt|svc.txt'
            Get-Synced $p.Right | Join-List | Should -BeExactly 'back.txt|svc.txt'
            # Start (id 1) and stop (id 2) are in the Application log too.
            $ev = @(Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = 'twinsync'; StartTime = $t0 } -ErrorAction SilentlyContinue)
            @($ev | Where-Object Id -EQ 1).Count | Should -BeGreaterOrEqual 2 -Because 'two starts'
            @($ev | Where-Object Id -EQ 2).Count | Should -BeGreaterOrEqual 2 -Because 'two stops'
            # A config error stops the service with a non-zero exit code and
            # an error entry (id 3) naming the key.
            Add-Content -Path $p.Config -Value "`nbogus_key = 1"
            $o = sc.exe start twinsync
            Wait-Until { (sc.exe query twinsync) -match 'STATE\s+:\s+1\s+STOPPED' } 30 | Should -Not -BeNullOrEmpty
            (sc.exe query twinsync) -join "`n" | Should -Match 'SERVICE_EXIT_CODE\s+:\s+1\s'
            $fatalFilter = @{ LogName = 'Application'; ProviderName = 'twinsync'; Id = 3; StartTime = $t0 }
            Wait-Until { Get-WinEvent -FilterHashtable $fatalFilter -ErrorAction SilentlyContinue } 30 | Should -Not -BeNullOrEmpty
            (Get-WinEvent -FilterHashtable $fatalFilter -MaxEvents 1).Message | Should -Match 'bogus_key'
        } finally {
            if ($installed) {
                [void](sc.exe stop twinsync 2>&1)
                [void](Wait-Until { -not ((sc.exe query twinsync) -match 'STATE\s+:\s+[234]\s') } 30)
                $o = & $script:Exe --config $p.Config service uninstall 2>&1
                $code = $LASTEXITCODE
                $code | Should -Be 0 -Because ($o -join "`n")
            }
        }
        # Deleted once the last handle to it is closed: ERROR_SERVICE_DOES_NOT_EXIST.
        Wait-Until { [void](sc.exe query twinsync); $LASTEXITCODE -eq 1060 } 30 | Should -Not -BeNullOrEmpty -Because 'the service is gone'
    }
}
