# Pester 5 suite: runs the built twinsync.exe on a real Windows machine,
# where NTFS semantics, sharing-violation locks, attributes, long paths and
# the Service Control Manager are real (Wine cannot show those).
#
#   cargo build --release --locked
#   Invoke-Pester -Path ps-tests -Output Detailed
#
# Set $env:TWINSYNC_EXE to test another binary. Service tests need an
# elevated prompt and are skipped otherwise.

BeforeAll {
    $script:Exe = if ($env:TWINSYNC_EXE) { $env:TWINSYNC_EXE } else { Join-Path $PSScriptRoot '..\target\release\twinsync.exe' }
    if (-not (Test-Path $script:Exe)) { throw "twinsync.exe not found at $script:Exe; run cargo build --release first" }

    function New-Pair([string]$Extra = '') {
        $root = Join-Path ([IO.Path]::GetTempPath()) ("twinsync-ps-" + [guid]::NewGuid())
        $left = Join-Path $root 'left'; $right = Join-Path $root 'right'
        New-Item -ItemType Directory -Path $left, $right | Out-Null
        $cfg = Join-Path $root 'sync_config.toml'
        @"
left_root = 'left'
right_root = 'right'
state_db = 'state\twinsync.db'
$Extra
[transfer]
min_file_age_seconds = 0
[logging]
log_file_path = 'twinsync.log.jsonl'
"@ | Set-Content -Path $cfg -Encoding utf8
        $p = [pscustomobject]@{ Root = $root; Left = $left; Right = $right; Config = $cfg }
        Invoke-Ts $p init | Out-Null
        return $p
    }

    function Invoke-Ts($Pair, [Parameter(ValueFromRemainingArguments)] [string[]]$Args) {
        $out = & $script:Exe --config $Pair.Config @Args 2>&1
        $script:LastExit = $LASTEXITCODE
        return ($out -join "`n")
    }

    function Write-Old([string]$Path, [string]$Text, [int]$AgeSeconds = 120) {
        New-Item -ItemType Directory -Force -Path (Split-Path $Path) | Out-Null
        Set-Content -Path $Path -Value $Text -NoNewline
        (Get-Item $Path).LastWriteTime = (Get-Date).AddSeconds(-$AgeSeconds)
    }

    function Sync($Pair) {
        $o = Invoke-Ts $Pair apply --auto-approve
        $script:LastExit | Should -Be 0 -Because $o
        return $o
    }
}

AfterAll {
    Get-ChildItem ([IO.Path]::GetTempPath()) -Filter 'twinsync-ps-*' -Directory -ErrorAction SilentlyContinue |
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'basic two-way sync on NTFS' {
    It 'copies new files both ways and keeps mtimes' {
        $p = New-Pair
        Write-Old "$($p.Left)\docs\a.docx" 'from left'
        Write-Old "$($p.Right)\media\b.txt" 'from right'
        Sync $p | Should -Match 'Apply complete: 2 copied'
        Get-Content "$($p.Right)\docs\a.docx" | Should -Be 'from left'
        Get-Content "$($p.Left)\media\b.txt" | Should -Be 'from right'
        (Get-Item "$($p.Right)\docs\a.docx").LastWriteTimeUtc | Should -Be (Get-Item "$($p.Left)\docs\a.docx").LastWriteTimeUtc
        Invoke-Ts $p plan --detailed-exitcode | Out-Null
        $script:LastExit | Should -Be 0
    }

    It 'makes clash copies when both sides changed' {
        $p = New-Pair
        Write-Old "$($p.Left)\r.docx" 'base' 600
        Sync $p | Out-Null
        Write-Old "$($p.Left)\r.docx" 'left edit' 300
        Write-Old "$($p.Right)\r.docx" 'right edit, newer' 100
        Sync $p | Out-Null
        foreach ($side in $p.Left, $p.Right) {
            Get-Content "$side\r.docx" | Should -Be 'right edit, newer'
            Get-Content "$side\r - clash.docx" | Should -Be 'left edit'
        }
    }

    It 'sends deletes to .sync_trash' {
        $p = New-Pair
        Write-Old "$($p.Left)\old.txt" 'bye'
        Sync $p | Out-Null
        Remove-Item "$($p.Left)\old.txt"
        Sync $p | Out-Null
        Test-Path "$($p.Right)\old.txt" | Should -BeFalse
        Get-Content "$($p.Right)\.sync_trash\old.txt" | Should -Be 'bye'
    }
}

Describe 'Windows semantics' {
    It 'treats names differing only in case as one file and syncs a case-only rename' {
        $p = New-Pair
        Write-Old "$($p.Left)\report.docx" 'v1'
        Sync $p | Out-Null
        Rename-Item "$($p.Left)\report.docx" 'Report.docx'
        $o = Sync $p
        $o | Should -Match 'renamed'
        (Get-ChildItem $p.Right -Filter 'report.docx').Name | Should -BeExactly 'Report.docx'
    }

    It 'syncs hidden and read-only attributes without copying content' {
        $p = New-Pair
        Write-Old "$($p.Left)\h.txt" 'attr'
        Sync $p | Out-Null
        $f = Get-Item "$($p.Left)\h.txt"
        $f.Attributes = 'Hidden, ReadOnly'
        $o = Sync $p
        $o | Should -Match '0 copied'
        (Get-Item "$($p.Right)\h.txt" -Force).Attributes | Should -Match 'Hidden'
        (Get-Item "$($p.Right)\h.txt" -Force).Attributes | Should -Match 'ReadOnly'
    }

    It 'retries a file locked by another process next cycle' {
        $p = New-Pair
        Write-Old "$($p.Left)\book.xlsx" 'v1'
        Sync $p | Out-Null
        Write-Old "$($p.Left)\book.xlsx" 'v2 longer' 30
        $lock = [IO.File]::Open("$($p.Right)\book.xlsx", 'Open', 'ReadWrite', 'None')
        try {
            Invoke-Ts $p apply --auto-approve | Out-Null
            $script:LastExit | Should -Be 1
        } finally { $lock.Close() }
        $st = Invoke-Ts $p status --json | ConvertFrom-Json
        $st.failing_paths.Count | Should -BeGreaterThan 0
        Sync $p | Out-Null
        Get-Content "$($p.Right)\book.xlsx" | Should -Be 'v2 longer'
    }

    It 'handles paths longer than 260 characters' {
        $p = New-Pair
        $deep = ('very-long-folder-name-' * 4).TrimEnd('-')
        $rel = "$deep\$deep\$deep\file.txt"
        $full = "\\?\$($p.Left)\$rel"
        New-Item -ItemType Directory -Force -Path (Split-Path $full) | Out-Null
        [IO.File]::WriteAllText($full, 'deep')
        (Get-Item -LiteralPath $full).LastWriteTime = (Get-Date).AddMinutes(-5)
        Sync $p | Out-Null
        [IO.File]::ReadAllText("\\?\$($p.Right)\$rel") | Should -Be 'deep'
    }

    It 'reports and skips names that cannot exist on Windows, without looping' {
        $p = New-Pair
        Write-Old "$($p.Left)\fine.txt" 'ok'
        # A trailing-dot name can only be made through the \\?\ prefix.
        [IO.File]::WriteAllText("\\?\$($p.Left)\bad.", 'x')
        $o = Invoke-Ts $p plan
        $o | Should -Match 'skipped'
        Sync $p | Out-Null
        Sync $p | Should -Match '0 copied'
    }
}

Describe 'safety' {
    It 'exits 3 and plans nothing when the right root is gone' {
        $p = New-Pair
        Write-Old "$($p.Left)\a.txt" 'x'
        Sync $p | Out-Null
        Rename-Item $p.Right "$($p.Right)-away"
        Invoke-Ts $p plan | Out-Null
        $script:LastExit | Should -Be 3
        Test-Path "$($p.Left)\a.txt" | Should -BeTrue
        Rename-Item "$($p.Right)-away" $p.Right
    }

    It 'refuses mass deletes with exit 4 unless --force' {
        $p = New-Pair
        1..30 | ForEach-Object { Write-Old "$($p.Left)\f$_.txt" "$_" }
        Sync $p | Out-Null
        Get-ChildItem $p.Left -Filter 'f*.txt' | Remove-Item
        Invoke-Ts $p plan | Out-Null
        $script:LastExit | Should -Be 4
        Invoke-Ts $p apply --auto-approve --force | Out-Null
        $script:LastExit | Should -Be 0
    }
}

Describe 'service' -Tag 'Admin' {
    BeforeAll {
        $script:IsAdmin = ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    }

    It 'prints service help' {
        $o = & $script:Exe service --help
        ($o -join "`n") | Should -Match 'install'
    }

    It 'installs, starts, syncs, stops cleanly and uninstalls' -Skip:(-not $script:IsAdmin) {
        $p = New-Pair 'sync_interval_seconds = 2'
        Write-Old "$($p.Left)\svc.txt" 'via service'
        & $script:Exe --config $p.Config service install | Out-Null
        try {
            Start-Service twinsync
            $deadline = (Get-Date).AddSeconds(30)
            while (-not (Test-Path "$($p.Right)\svc.txt") -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 500 }
            Get-Content "$($p.Right)\svc.txt" | Should -Be 'via service'
            Stop-Service twinsync
            (Get-Service twinsync).Status | Should -Be 'Stopped'
            (Get-Service twinsync).StartType | Should -Be 'Automatic'
        } finally {
            & $script:Exe service uninstall | Out-Null
        }
    }
}
