module github.com/localrouter/localrouter

go 1.24
