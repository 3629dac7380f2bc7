module github.com/tallyq/tallyq

go 1.26
