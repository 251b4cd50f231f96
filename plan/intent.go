package plan

// Intent is the ownership record to write before the plan p is carried out: owned,
// extended with every object p creates or changes (Action.Own), and, for each sysctl
// desired sets that owned has no value for, the value actual has: the one destroy
// restores. A run killed midway so leaves every object it may have made recorded.
func Intent(owned, desired, actual State, p Plan) State {
	intent := owned.Clone()
	for _, a := range p.Actions {
		a.Own(intent, desired)
	}
	for k := range desired.Sysctls {
		if _, recorded := intent.Sysctls[k]; !recorded {
			if v, seen := actual.Sysctls[k]; seen {
				intent.Sysctls[k] = v
			}
		}
	}
	return intent
}

// Final is the ownership record once a plan that took the kernel to desired is carried
// out: exactly desired (Recorded), with the sysctl values to restore from intent, and
// without what was there before the lab (a directory under /etc/netns it found, the
// /run/netns entry of an existing namespace it did not make).
func Final(desired, intent State) State {
	final := desired.Recorded()
	final.Sysctls = map[SysctlKey]string{}
	for k := range desired.Sysctls {
		if orig, ok := intent.Sysctls[k]; ok {
			final.Sysctls[k] = orig
		}
	}
	for k := range desired.Files {
		if _, made := intent.Files[k]; k.IsDir() && !made {
			delete(final.Files, k) // a directory that was there is not the lab's
		}
	}
	for ns := range desired.Attached {
		if _, made := intent.Attached[ns]; !made {
			delete(final.Attached, ns) // an entry that was there is not the lab's
		}
	}
	return final
}
