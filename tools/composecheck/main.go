// Command composecheck loads compose files with compose-go, the loader behind
// `docker compose config`, and checks what a build would need from the repository:
// every service's build context and Dockerfile exist, and every COPY/ADD source of that
// Dockerfile exists under the context and is not excluded by its .dockerignore.
//
//	composecheck [-C project-dir] [file ...]   (default: docker-compose.yaml docker-compose.override.yml)
//
// Exit 0 and one line per build when everything holds; exit 1 naming each problem.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/cli"
)

var defaultFiles = []string{"docker-compose.yaml", "docker-compose.override.yml"}

func main() {
	dir := flag.String("C", ".", "project directory (relative paths in the files resolve here)")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		files = defaultFiles
	}
	problems, report, err := check(*dir, files)
	if err != nil {
		fmt.Fprintf(os.Stderr, "composecheck: %v\n", err)
		os.Exit(1)
	}
	for _, line := range report {
		fmt.Println(line)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "composecheck: %d problem(s) in %s:\n", len(problems), strings.Join(files, " + "))
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "  - %s\n", p)
		}
		os.Exit(1)
	}
}

// check loads the project and returns its build problems and a summary line per build;
// err is a load error (what `docker compose config` would refuse).
func check(dir string, files []string) (problems, report []string, err error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f
		if !filepath.IsAbs(f) {
			paths[i] = filepath.Join(absDir, f)
		}
	}
	opts, err := cli.NewProjectOptions(paths, cli.WithWorkingDirectory(absDir), cli.WithOsEnv,
		cli.WithDotEnv, cli.WithResolvedPaths(true))
	if err != nil {
		return nil, nil, err
	}
	project, err := cli.ProjectFromOptions(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s: %w", strings.Join(files, " + "), err)
	}
	services := project.AllServices()
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	for _, svc := range services {
		if svc.Build == nil {
			report = append(report, fmt.Sprintf("ok   %s: image %s (no build)", svc.Name, svc.Image))
			continue
		}
		found, copies := checkBuild(absDir, svc.Name, svc.Build.Context, svc.Build.Dockerfile)
		problems = append(problems, found...)
		if len(found) == 0 {
			report = append(report, fmt.Sprintf("ok   %s: build context %s, dockerfile %s, %d COPY/ADD source(s) present",
				svc.Name, rel(absDir, svc.Build.Context), svc.Build.Dockerfile, copies))
		}
	}
	return problems, report, nil
}

// checkBuild checks one service's build; it returns the problems and the number of
// COPY/ADD sources it checked.
func checkBuild(projectDir, service, context, dockerfile string) ([]string, int) {
	if info, err := os.Stat(context); err != nil || !info.IsDir() {
		return []string{fmt.Sprintf("service %s: build.context %s is not a directory", service, rel(projectDir, context))}, 0
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	path := dockerfile
	if !filepath.IsAbs(path) {
		path = filepath.Join(context, dockerfile)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("service %s: build.dockerfile %s not found under build.context %s (dockerfile is relative to the context)",
			service, dockerfile, rel(projectDir, context))}, 0
	}
	ignore := readIgnore(context, path)
	var problems []string
	sources := copySources(string(text))
	for _, src := range sources {
		where := fmt.Sprintf("service %s: %s line %d `%s`", service, rel(projectDir, path), src.line, src.instruction)
		if strings.Contains(src.path, "$") {
			problems = append(problems, fmt.Sprintf("%s: source %s names an ARG with no default", where, src.path))
			continue
		}
		clean := filepath.Clean(strings.TrimPrefix(src.path, "/"))
		if clean == ".." || strings.HasPrefix(clean, "../") {
			problems = append(problems, fmt.Sprintf("%s: source %s is outside build.context %s", where, src.path, rel(projectDir, context)))
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(context, clean))
		if len(matches) == 0 {
			problems = append(problems, fmt.Sprintf("%s: source %s does not exist under build.context %s",
				where, src.path, rel(projectDir, context)))
			continue
		}
		if ignore.excludes(clean) {
			problems = append(problems, fmt.Sprintf("%s: source %s is excluded by %s", where, src.path, rel(projectDir, ignore.file)))
		}
	}
	return problems, len(sources)
}

func rel(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return r
	}
	return path
}
