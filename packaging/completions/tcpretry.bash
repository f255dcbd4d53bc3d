# bash completion for tcpretry(1)
#
# Installed as /usr/share/bash-completion/completions/tcpretry (bash-completion loads it on
# the first <TAB> after "tcpretry"). From a source tree: source packaging/completions/tcpretry.bash
# Written by hand from `tcpretry --help`; tests/integration/test_completions.py fails when a
# flag of --help is missing here (or one here is not in --help). It uses nothing from
# bash-completion, so it also works in a bare bash; with bash-completion loaded, the
# COMMAND after -- is completed as that command would be.

# Options that take a value (the next word, or --opt=VALUE).
_tcpretry_value_opts='-t --timeout -n --attempts -T --connect-timeout --initial-delay
  --max-delay --multiplier --jitter --seed --quorum --parallel --targets-file
  --stable-after --keepalive --recheck --send --expect --expect-timeout -c --count
  --http-method --http-header --http-status
  -i --interval --source --resolver --format --metrics-listen --color --ca-file --ca-path
  --sni --tls-min-version --alpn --client-cert --client-key --cert-min-days --starttls
  --serve --serve-allow --serve-timeout-offset'
# Options that take no value.
_tcpretry_flag_opts='-h --help --version --once --all --any --invert -w --watch -4 -6 -j --json
  -q --quiet -v --verbose --timestamps --no-timestamps --tls --insecure'

# _tcpretry_value OPTION CUR: sets COMPREPLY to what completes OPTION's value CUR (nothing
# for free-form values: durations, numbers, addresses, strings).
_tcpretry_value() {
  case $1 in
    --format) mapfile -t COMPREPLY < <(compgen -W 'human json prometheus' -- "$2") ;;
    --color) mapfile -t COMPREPLY < <(compgen -W 'auto always never' -- "$2") ;;
    --tls-min-version) mapfile -t COMPREPLY < <(compgen -W '1.2 1.3' -- "$2") ;;
    --http-method) mapfile -t COMPREPLY < <(compgen -W 'GET HEAD' -- "$2") ;;
    --starttls) mapfile -t COMPREPLY < <(compgen -W 'smtp imap pop3 ftp postgres' -- "$2") ;;
    --targets-file | --ca-file | --client-cert | --client-key)
      compopt -o filenames 2>/dev/null # fails harmlessly when not called by <TAB>
      mapfile -t COMPREPLY < <(compgen -f -- "$2") ;;
    --ca-path)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$2") ;;
  esac
}

_tcpretry() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev= i word
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # After "--" comes COMMAND [ARG]...: complete it as its own command line.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -- ]]; then
      if declare -F _command_offset >/dev/null; then
        _command_offset $((i + 1))
      elif ((i + 1 == COMP_CWORD)); then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
      else
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi
      return 0
    fi
    # The value of an option may be "--": skip it.
    [[ " ${_tcpretry_value_opts//$'\n'/ } " == *" $word "* ]] && ((i++))
  done

  # --opt=VALUE: bash splits it at "=" when "=" is in COMP_WORDBREAKS (the default)...
  if [[ $cur == = && $prev == --* ]]; then
    _tcpretry_value "$prev" ""
    return 0
  fi
  if [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
    _tcpretry_value "${COMP_WORDS[COMP_CWORD - 2]}" "$cur"
    return 0
  fi
  # ...and keeps it in one word otherwise.
  if [[ $cur == --*=* ]]; then
    _tcpretry_value "${cur%%=*}" "${cur#*=}"
    COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
    return 0
  fi

  if [[ " ${_tcpretry_value_opts//$'\n'/ } " == *" $prev "* ]]; then
    _tcpretry_value "$prev" "$cur"
    return 0
  fi

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$_tcpretry_value_opts $_tcpretry_flag_opts --" -- "$cur"))
    return 0
  fi

  # A TARGET: HOST:PORT. Offer host names with the colon; the port is left to the user.
  if [[ $cur != *:* && $prev != : ]]; then
    COMPREPLY=($(compgen -A hostname -S : -- "$cur"))
    compopt -o nospace 2>/dev/null
  fi
  return 0
}

complete -F _tcpretry tcpretry
