# fish completion for tcpretry(1)
#
# Installed as /usr/share/fish/vendor_completions.d/tcpretry.fish. From a source tree:
#   source packaging/completions/tcpretry.fish
# Written by hand from `tcpretry --help`; tests/integration/test_completions.py fails when a
# flag of --help is missing here.

# True once the command line has "--" before the token being completed: what follows is
# COMMAND [ARG]..., completed as its own command line.
function __fish_tcpretry_has_command
    contains -- -- (commandline -opc)
end

function __fish_tcpretry_complete_command
    set -l tokens (commandline -opc)
    set -l start (contains -i -- -- $tokens)
    set -l rest
    if test $start -lt (count $tokens)
        set rest $tokens[(math $start + 1)..-1]
    end
    complete -C (string join -- ' ' (string escape -- $rest) (commandline -ct))
end

complete -c tcpretry -n __fish_tcpretry_has_command -f -a '(__fish_tcpretry_complete_command)'

# No file names for TARGETs; offer host names (the :PORT is left to the user).
set -l opt 'not __fish_tcpretry_has_command'
complete -c tcpretry -n $opt -f -a '(__fish_print_hostnames)' -d 'Target host (HOST:PORT)'

complete -c tcpretry -n $opt -s h -l help -d 'Print the help and exit'
complete -c tcpretry -n $opt -l version -d 'Print version information and exit'

# Retry
complete -c tcpretry -n $opt -s t -l timeout -x -d 'Overall deadline (exit 124; 0: none)'
complete -c tcpretry -n $opt -s n -l attempts -x -d 'Give up on a target after N rounds (0: never)'
complete -c tcpretry -n $opt -l once -d 'Same as --attempts 1'
complete -c tcpretry -n $opt -s T -l connect-timeout -x -d 'Deadline of one round (resolve + connect)'
complete -c tcpretry -n $opt -l initial-delay -x -d 'First retry delay'
complete -c tcpretry -n $opt -l max-delay -x -d 'Retry delay cap'
complete -c tcpretry -n $opt -l multiplier -x -d 'Delay growth per failed round (1 to 1000)'
complete -c tcpretry -n $opt -l jitter -x -d 'Randomise each delay by +/- this fraction (0-1)'
complete -c tcpretry -n $opt -l seed -x -d 'Seed for the jitter'
complete -c tcpretry -n $opt -l all -d 'Succeed when all targets connected (default)'
complete -c tcpretry -n $opt -l any -d 'Succeed when any target connected'
complete -c tcpretry -n $opt -l invert -d 'Wait until the targets refuse or do not answer'
complete -c tcpretry -n $opt -l quorum -x -d 'Succeed when N targets connected'
complete -c tcpretry -n $opt -l parallel -x -d 'Rounds in flight at once, over all targets'
complete -c tcpretry -n $opt -l targets-file -r -F -d 'Read TARGETs from FILE (-: stdin)'

# Watch and check
complete -c tcpretry -n $opt -s w -l watch -d 'Stay connected; report drops and reconnect'
complete -c tcpretry -n $opt -l stable-after -x -d 'Watch: a connection up this long resets the delay'
complete -c tcpretry -n $opt -l keepalive -x -d 'Watch: declare a silent dead peer after DUR'
complete -c tcpretry -n $opt -l recheck -x -d 'Watch: also make a fresh connect every DUR'
complete -c tcpretry -n $opt -l send -x -d 'Send STRING after connecting'
complete -c tcpretry -n $opt -l expect -x -d 'Ready only when the reply matches REGEX'
complete -c tcpretry -n $opt -l expect-timeout -x -d 'How long to wait for the reply'

# HTTP (http:// and https:// TARGETs)
complete -c tcpretry -n $opt -l http-method -x -a 'GET HEAD' -d 'The request method'
complete -c tcpretry -n $opt -l http-header -x -d "Add a request header 'Name: value' (repeatable)"
complete -c tcpretry -n $opt -l http-status -x -d 'Statuses that count as ready (default 200-399)'

# TLS
complete -c tcpretry -n $opt -l tls -d 'Ready only after a TLS handshake with a verified certificate'
complete -c tcpretry -n $opt -l insecure -d 'Report certificate verification, do not require it'
complete -c tcpretry -n $opt -l ca-file -r -F -d 'Trust the CA certificates in FILE (PEM)'
complete -c tcpretry -n $opt -l ca-path -x -a '(__fish_complete_directories)' -d 'Trust the CA certificates in DIR'
complete -c tcpretry -n $opt -l sni -x -d 'Send NAME as SNI and check the certificate for it'
complete -c tcpretry -n $opt -l tls-min-version -x -a '1.2 1.3' -d 'Lowest TLS version'
complete -c tcpretry -n $opt -l alpn -x -d 'Offer these ALPN protocols (h2,http/1.1)'
complete -c tcpretry -n $opt -l client-cert -r -F -d 'Client certificate (PEM)'
complete -c tcpretry -n $opt -l client-key -r -F -d 'Client key (PEM)'
complete -c tcpretry -n $opt -l cert-min-days -x -d 'Fail when the certificate expires in fewer than N days'
complete -c tcpretry -n $opt -l starttls -x -a 'smtp imap pop3 ftp postgres' -d 'Upgrade with STARTTLS first (implies --tls)'

# Ping
complete -c tcpretry -n $opt -s c -l count -x -d 'Ping mode: N probes per target (0: until stopped)'
complete -c tcpretry -n $opt -s i -l interval -x -d 'Ping mode: time between probes'

# Network
complete -c tcpretry -n $opt -s 4 -d 'IPv4 only'
complete -c tcpretry -n $opt -s 6 -d 'IPv6 only'
complete -c tcpretry -n $opt -l source -x -d 'Bind this local address'
complete -c tcpretry -n $opt -l resolver -x -d 'Ask this DNS server (ADDR[:PORT])'

# Output
complete -c tcpretry -n $opt -s j -l json -d 'JSON Lines (same as --format json)'
complete -c tcpretry -n $opt -l format -x -a 'human\t"Human-readable lines" json\t"JSON Lines" prometheus\t"Metrics at the end"' -d 'Output format'
complete -c tcpretry -n $opt -l metrics-listen -x -d 'Serve live Prometheus metrics at ADDR:PORT'
complete -c tcpretry -n $opt -s q -l quiet -d 'Print nothing but errors'
complete -c tcpretry -n $opt -s v -l verbose -d 'Print every event'
complete -c tcpretry -n $opt -l timestamps -d 'Start each human line with the local time'
complete -c tcpretry -n $opt -l no-timestamps -d 'Do not start human lines with the time'
complete -c tcpretry -n $opt -l color -x -a 'auto always never' -d 'Colour human output'

# Exporter
complete -c tcpretry -n $opt -l serve -x -d 'Run as a Prometheus probe exporter at ADDR:PORT'
complete -c tcpretry -n $opt -l serve-allow -x -d 'Targets /probe may connect to (CIDRs, names)'
complete -c tcpretry -n $opt -l serve-timeout-offset -x -d 'Deadline: scrape timeout less DUR'
